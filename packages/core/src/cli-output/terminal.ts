// Whether a stream gets colour or progress bars, and the colours themselves. Colour follows
// no-color.org: only on a terminal, never with NO_COLOR (any non-empty value), FORCE_COLOR=0
// or TERM=dumb. FORCE_COLOR never turns colour on off a terminal: pipes stay plain text.
import { styleText } from 'node:util';

/** The bits of a stream that decide how to write to it (process.stdout/stderr satisfy it). */
export interface OutputStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The colours patchbay uses; each maps to a node:util styleText format. */
export type Color = 'red' | 'green' | 'yellow' | 'cyan' | 'bold' | 'dim';

export function colorEnabled(stream: Pick<OutputStream, 'isTTY'>, env: Env = process.env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR?.toLowerCase();
  if (force === '0' || force === 'false') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export interface ProgressSwitches {
  json?: boolean;
  quiet?: boolean;
}

/** Progress bars: on a terminal only, never with --json or --quiet, never on a dumb terminal. */
export function progressEnabled(
  stream: Pick<OutputStream, 'isTTY'>,
  switches: ProgressSwitches = {},
  env: Env = process.env,
): boolean {
  return !switches.json && !switches.quiet && stream.isTTY === true && env.TERM !== 'dumb';
}

/** Paints text when colour is on; returns it unchanged otherwise (so callers never branch). */
export interface Style {
  readonly enabled: boolean;
  paint(color: Color | readonly Color[], text: string): string;
}

export function createStyle(enabled: boolean): Style {
  return {
    enabled,
    paint(color, text) {
      if (!enabled || text === '') return text;
      // the decision is ours (colorEnabled): newer Nodes must not second-guess it per stream
      return styleText(typeof color === 'string' ? color : [...color], text, { validateStream: false });
    },
  };
}

/** A Style for this stream under this environment. */
export function styleFor(stream: Pick<OutputStream, 'isTTY'>, env: Env = process.env): Style {
  return createStyle(colorEnabled(stream, env));
}

// eslint-disable-next-line no-control-regex -- escape codes are what it matches
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b[78]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

// Escape sequences in text from elsewhere (catalog titles, server messages, installer output):
// CSI (ESC [ … final, or C1 0x9B), strings (OSC ESC ], DCS ESC P, SOS ESC X, PM ESC ^, APC ESC _,
// or their C1 forms) up to BEL / ST or the end of the text, and the other ESC sequences.
const ESCAPE_SEQUENCE =
  // eslint-disable-next-line no-control-regex -- escape codes are what it matches
  /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d-\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[ -/]*[0-~]/g;
// C0 but TAB and LF, DEL, C1 (a lone ESC left by a cut-off sequence goes here too)
// eslint-disable-next-line no-control-regex -- control characters are what it matches
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const UNSAFE = new RegExp(`${ESCAPE_SEQUENCE.source}|${CONTROL.source}`, 'g');
/** The SGR codes patchbay's own Style paints with (see Color): kept on a coloured stream. */
const OWN_SGR = new Set(['1', '2', '22', '31', '32', '33', '36', '39']);

/**
 * Text made safe for a terminal: escape sequences and control characters (C0 but TAB and LF,
 * DEL, C1) removed, so a catalog title or a server message can never set the window title,
 * clear the screen or move the cursor. With `keepColors` (a stream patchbay paints on), only
 * the colour codes patchbay's own Style writes survive — nothing else that starts with ESC.
 */
export function sanitizeTerminal(text: string, keepColors = false): string {
  // one pass, sequences tried first at each position: removing bytes never forms a new sequence
  return text.replace(UNSAFE, (found) => {
    // eslint-disable-next-line no-control-regex -- an SGR code is what it matches
    const sgr = /^\u001b\[(\d+)m$/.exec(found);
    return keepColors && sgr && OWN_SGR.has(sgr[1] ?? '') ? found : '';
  });
}

// East Asian wide and fullwidth ranges plus emoji: two columns each. A short approximation of
// string-width (not a dependency here): ids and titles are ASCII in practice.
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}]/u;

/** Columns a string takes on a terminal (escape codes take none). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of stripAnsi(text)) {
    if (ZERO_WIDTH.test(ch)) continue;
    width += WIDE.test(ch) ? 2 : 1;
  }
  return width;
}

/** Cut to at most `max` columns, ending in "…" when something was cut. */
export function truncate(text: string, max: number): string {
  if (displayWidth(text) <= max) return text;
  if (max <= 0) return '';
  let out = '';
  let width = 0;
  for (const ch of text) {
    const w = ZERO_WIDTH.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
    if (width + w > max - 1) break;
    out += ch;
    width += w;
  }
  return out + '…';
}
