// Progress lines on a terminal: one line per transfer, redrawn in place with \r and ESC[K.
// Hand-written rather than cli-progress: its SingleBar saves and restores the cursor around
// the bar (a log line written meanwhile is overwritten at stop), cuts lines by raw length
// including colour codes, and keeps a redraw timer alive; one line needs none of that.
import {
  createStyle,
  displayWidth,
  sanitizeTerminal,
  truncate,
  type OutputStream,
  type Style,
} from './terminal.js';
import { formatBytes, formatDuration, formatRate } from './units.js';

/** Throughput over a sliding window of samples (the last few seconds), and the time left. */
export class TransferMeter {
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly windowMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes done so far (a running total), now. */
  sample(bytes: number): void {
    const at = this.now();
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0]!.at > this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; null until a quarter second has passed. */
  bytesPerSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 250) return null;
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.at - first.at));
  }

  /** Seconds until `total` at the current rate; null when the rate is unknown or zero. */
  etaSeconds(total: number): number | null {
    const rate = this.bytesPerSecond();
    const done = this.samples.at(-1)?.bytes ?? 0;
    if (rate === null || rate <= 0) return done >= total ? 0 : null;
    return Math.max(0, (total - done) / rate);
  }
}

export interface ProgressLineInput {
  /** what is moving: a file name, "sync" */
  label: string;
  /** e.g. "3/12 files" */
  detail?: string;
  received: number;
  total: number;
  bytesPerSecond: number | null;
  etaSeconds: number | null;
}

const LABEL_MAX = 40;
const BAR_MAX = 30;
const BAR_MIN = 8;

/**
 * `T5KB0042.sh  [=========>----------]  45%  1.2 MiB/2.7 MiB  3.4 MiB/s  ETA 2s`, fitted to
 * `width` columns: the bar shrinks, then goes; what is left is cut with "…".
 */
export function formatProgressLine(input: ProgressLineInput, width: number, style?: Style): string {
  const paint = style ?? createStyle(false);
  const fraction = input.total > 0 ? Math.min(1, input.received / input.total) : 1;
  const pct = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  // a file name from a catalog: no escape sequence reaches the terminal
  const label = truncate(sanitizeTerminal(input.label), LABEL_MAX);
  const tail = [
    ...(input.detail ? [input.detail] : []),
    `${formatBytes(input.received)}/${formatBytes(input.total)}`,
    formatRate(input.bytesPerSecond),
    `ETA ${formatDuration(fraction >= 1 ? 0 : input.etaSeconds)}`,
  ].join('  ');
  const fixed = `${label}  ${pct}  ${tail}`;
  const room = width - displayWidth(fixed) - 4; // "  [" + "]"
  const barWidth = Math.min(BAR_MAX, room);
  if (barWidth < BAR_MIN) return truncate(fixed, width);
  const filled = Math.round(fraction * barWidth);
  const head = filled < barWidth && filled > 0 ? '>' : '';
  const done = '='.repeat(Math.max(0, filled - head.length)) + head;
  const bar = `[${paint.paint('green', done)}${'-'.repeat(barWidth - done.length)}]`;
  return `${label}  ${bar}  ${pct}  ${tail}`;
}

/** Redraws at most this often: a terminal does not need more, and writes cost time. */
const REDRAW_MS = 100;

/**
 * One line redrawn in place: carriage return, the text, erase to the end of the line. Nothing
 * else is written (no cursor save/restore, no hidden cursor), so a killed process or a log
 * line written meanwhile leaves the terminal as it was.
 */
class LiveLine {
  private visible = false;
  private lastDraw = 0;

  constructor(
    private readonly stream: OutputStream,
    private readonly render: (width: number) => string,
    private readonly now: () => number,
  ) {}

  draw(force = false): void {
    const at = this.now();
    if (this.visible && !force && at - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = at;
    // one column short of the edge: a line that fills it wraps on some terminals
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    this.stream.write(`\r${this.render(width)}\u001b[K`);
    this.visible = true;
  }

  /** Clear the line (other output is about to be written, or the transfer ended). */
  hide(): void {
    if (!this.visible) return;
    this.stream.write('\r\u001b[K');
    this.visible = false;
  }
}

/**
 * The client's download progress: one line per file (name, bar, bytes, rate, ETA), cleared when
 * the file is complete. Feed it every progress callback of the downloader.
 */
export class FileProgress {
  private key: string | null = null;
  private meter = new TransferMeter();
  private state: ProgressLineInput = {
    label: '',
    received: 0,
    total: 0,
    bytesPerSecond: null,
    etaSeconds: null,
  };
  private readonly line: LiveLine;

  constructor(
    stream: OutputStream,
    style: Style = createStyle(false),
    private readonly now: () => number = Date.now,
  ) {
    this.line = new LiveLine(stream, (width) => formatProgressLine(this.snapshot(), width, style), now);
  }

  /** A file's progress; a new `key` starts a new line. */
  update(key: string, label: string, received: number, total: number): void {
    const fresh = key !== this.key;
    if (fresh) {
      this.line.hide();
      this.key = key;
      this.meter = new TransferMeter(undefined, this.now);
    }
    this.meter.sample(received);
    this.state = { ...this.state, label, received, total };
    if (received >= total) {
      // the whole file: cleared, the command's result says what was fetched
      this.line.hide();
      this.key = null;
      return;
    }
    this.line.draw(fresh);
  }

  /** Clear the line so that other output starts on a clean one; the next update draws again. */
  pause(): void {
    this.line.hide();
  }

  close(): void {
    this.line.hide();
    this.key = null;
  }

  private snapshot(): ProgressLineInput {
    return {
      ...this.state,
      bytesPerSecond: this.meter.bytesPerSecond(),
      etaSeconds: this.meter.etaSeconds(this.state.total),
    };
  }
}

/** What a sync's blob downloads report (the staging server's downloadBlobs calls it). */
export interface BlobProgressListener {
  /** the blobs to fetch, and their bytes in all */
  start(files: number, bytes: number): void;
  /** bytes of this blob on disk so far (a resumed one starts at its partial's size) */
  blob(sha256: string, received: number): void;
  /** this blob is stored (ok) or given up */
  done(sha256: string, ok: boolean): void;
}

/** The server's sync progress: one line for all blobs (files done, bytes, rate, ETA). */
export class SyncProgress implements BlobProgressListener {
  private files = 0;
  private bytes = 0;
  private filesDone = 0;
  private readonly received = new Map<string, number>();
  private receivedTotal = 0;
  private readonly meter: TransferMeter;
  private readonly line: LiveLine;

  constructor(
    stream: OutputStream,
    style: Style = createStyle(false),
    label = 'sync',
    now: () => number = Date.now,
  ) {
    this.meter = new TransferMeter(undefined, now);
    this.line = new LiveLine(
      stream,
      (width) =>
        formatProgressLine(
          {
            label,
            detail: `${this.filesDone}/${this.files} files`,
            received: this.receivedTotal,
            total: this.bytes,
            bytesPerSecond: this.meter.bytesPerSecond(),
            etaSeconds: this.meter.etaSeconds(this.bytes),
          },
          width,
          style,
        ),
      now,
    );
  }

  start(files: number, bytes: number): void {
    this.files = files;
    this.bytes = bytes;
    if (files > 0) this.draw(true);
  }

  blob(sha256: string, received: number): void {
    this.receivedTotal += received - (this.received.get(sha256) ?? 0);
    this.received.set(sha256, received);
    this.draw();
  }

  done(_sha256: string, _ok: boolean): void {
    this.filesDone += 1;
    if (this.filesDone >= this.files) this.close();
    else this.draw(true);
  }

  close(): void {
    this.line.hide();
  }

  private draw(force = false): void {
    this.meter.sample(this.receivedTotal);
    this.line.draw(force);
  }
}
