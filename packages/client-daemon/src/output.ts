import type { Writable } from 'node:stream';
import { FileProgress, formatTable, progressEnabled, sanitizeTerminal, styleFor } from '@patchbay/core';
import type { Color, Env, FeedFile, Style, TableCell } from '@patchbay/core';

type Stream = Writable & { isTTY?: boolean; columns?: number };

export interface OutputOptions {
  /** --quiet: no progress bars, no notes (warnings and errors still go to stderr) */
  quiet?: boolean;
  /** the environment that decides colour (NO_COLOR, FORCE_COLOR, TERM); process.env by default */
  env?: Env;
}

/** Outcomes of results and events (a postponed install stands out without alarming). */
const OUTCOME_COLORS = new Map<string, Color>([
  ['ok', 'green'],
  ['failed', 'red'],
  ['skipped', 'dim'],
  ['postponed', 'yellow'],
]);

/** Colour of a cell by its column header: states, severities and outcomes stand out on a terminal. */
const COLUMN_COLORS: Record<string, (text: string) => Color | undefined> = {
  STATE: (text) =>
    (
      ({
        installed: 'green',
        downloaded: 'cyan',
        available: 'cyan',
        failed: 'red',
        blocked: 'red',
        superseded: 'dim',
        uninstalled: 'dim',
      }) as Record<string, Color>
    )[text.split(' ')[0] ?? ''],
  SEVERITY: (text) => (text === 'critical' ? 'red' : text === 'optional' ? 'dim' : undefined),
  OUTCOME: (text) => OUTCOME_COLORS.get(text),
  REPORTED: (text) => (text === 'no' ? 'yellow' : undefined),
};

/** Columns of numbers, aligned right. */
const RIGHT_ALIGNED = new Set(['SEQ']);

/**
 * Human text vs one --json document. stdout carries the result; notes (offline,
 * progress, errors) go to stderr in human mode so pipes see only the result.
 * Colour only where the stream is a terminal (never with NO_COLOR); progress bars only
 * on a terminal stderr, never with --json or --quiet.
 * Every human line goes through sanitizeTerminal here, so no command can forget it: text from a
 * catalog, a server or an installer never brings escape sequences or control characters to the
 * terminal (only patchbay's own colour codes, on a coloured stream). --json is JSON.stringify,
 * which escapes control characters itself.
 */
export class Output {
  readonly quiet: boolean;
  /** colours for stdout and for stderr (each decided by its own stream) */
  readonly style: Style;
  readonly errStyle: Style;
  private progress: FileProgress | undefined;

  constructor(
    readonly json: boolean,
    private readonly stdout: Stream = process.stdout,
    private readonly stderr: Stream = process.stderr,
    private readonly opts: OutputOptions = {},
  ) {
    this.quiet = opts.quiet ?? false;
    this.style = styleFor(stdout, opts.env);
    this.errStyle = styleFor(stderr, opts.env);
  }

  /** The one JSON document (json mode) — callers pass what the human path prints too. */
  document(value: unknown): void {
    if (this.json) this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** A line of human output (ignored in json mode). */
  line(text = ''): void {
    if (this.json) return;
    this.progress?.pause();
    this.stdout.write(this.safe(text) + '\n');
  }

  /** A note for the person at the terminal: stderr, human mode only, not with --quiet. */
  note(text: string): void {
    if (this.json || this.quiet) return;
    this.progress?.pause();
    this.stderr.write(this.safeErr(text) + '\n');
  }

  /** A warning a person must see (key pinned, catalog expired): stderr in both modes. */
  warn(text: string): void {
    this.progress?.pause();
    const painted = text.startsWith('warning:')
      ? this.errStyle.paint('yellow', 'warning:') + text.slice('warning:'.length)
      : text;
    this.stderr.write(this.safeErr(painted) + '\n');
  }

  /** An error line: stderr in both modes (json mode also prints an error document). */
  error(text: string): void {
    this.progress?.pause();
    this.stderr.write(this.safeErr(text) + '\n');
  }

  /** Raw text to stderr (already formatted, e.g. an error with its hint). */
  stderrWrite(text: string): void {
    this.progress?.pause();
    this.stderr.write(this.safeErr(text));
  }

  /** Human text for stdout: no escape sequence but our own colours (when stdout is coloured). */
  private safe(text: string): string {
    return sanitizeTerminal(text, this.style.enabled);
  }

  private safeErr(text: string): string {
    return sanitizeTerminal(text, this.errStyle.enabled);
  }

  /** The rows as a table, or the line `whenEmpty` when there are none; true when there were rows. */
  tableOr(headers: readonly string[], rows: readonly (readonly string[])[], whenEmpty: string): boolean {
    if (rows.length === 0) this.line(whenEmpty);
    else this.table(headers, rows);
    return rows.length > 0;
  }

  /** An aligned table (human mode); STATE, SEVERITY, OUTCOME, REPORTED cells coloured on a terminal. */
  table(headers: readonly string[], rows: readonly (readonly string[])[]): void {
    if (this.json) return;
    const colored = rows.map((row) =>
      row.map((raw, i): TableCell => {
        // cells are data: cleaned before they are measured and painted
        const text = sanitizeTerminal(raw);
        const color = COLUMN_COLORS[headers[i] ?? '']?.(text);
        return color ? { text, color } : text;
      }),
    );
    const lines = formatTable(headers, colored, {
      style: this.style,
      align: headers.map((h) => (RIGHT_ALIGNED.has(h) ? 'right' : 'left')),
    });
    for (const l of lines) this.line(l);
  }

  /** Whether a download would show a progress bar (stderr is a terminal; not --json/--quiet). */
  get showsProgress(): boolean {
    return progressEnabled(this.stderr, { json: this.json, quiet: this.quiet }, this.opts.env);
  }

  /** Show download bars from now on when stderr is a terminal (not --json/--quiet); a no-op otherwise. */
  startProgress(): void {
    if (!this.progress && this.showsProgress) this.progress = new FileProgress(this.stderr, this.errStyle);
  }

  /** The downloader's progress callback, or undefined when no bar is shown (off a terminal). */
  transferProgress(): ((file: FeedFile, received: number, total: number) => void) | undefined {
    const progress = this.progress;
    if (!progress) return undefined;
    return (file, received, total) => progress.update(file.sha256, file.name, received, total);
  }

  /** Clear a bar still on screen (the command ends). */
  close(): void {
    this.progress?.close();
  }
}
