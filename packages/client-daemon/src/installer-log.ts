// The installer's own log ({log} in a patch's argv: msiexec /l*v, Inno Setup /LOG=, Burn
// /log): where it goes, and its last lines for the event that reports a failure. msiexec
// writes UTF-16LE with a byte order mark, other installers UTF-8 or ANSI: decoded by the
// BOM, then bounded and cleaned as the command's own output is (output-tail.ts).
import path from 'node:path';
import { cleanOutput, dropPartialFirstLine, OUTPUT_TAIL_BYTES, withOpenFile } from './output-tail.js';

/** <logs>/<patchId>-<action>-<stamp>.installer.log beside the run's <…>.log. */
export function installerLogPathFor(runLogPath: string): string {
  return runLogPath.replace(/\.log$/, '') + '.installer.log';
}

interface TextEncoding {
  /** bytes of the byte order mark (0 without one) */
  bom: number;
  /** bytes a code unit takes: a cut must fall on a multiple of it */
  unit: 1 | 2;
  decode(bytes: Buffer): string;
}

const UTF8: TextEncoding = { bom: 0, unit: 1, decode: (b) => b.toString('utf8') };

/** The encoding its first bytes announce (UTF-16LE/BE or UTF-8 with a BOM), else UTF-8. */
function encodingOf(head: Buffer): TextEncoding {
  if (head[0] === 0xff && head[1] === 0xfe) return { bom: 2, unit: 2, decode: (b) => b.toString('utf16le') };
  if (head[0] === 0xfe && head[1] === 0xff) {
    return { bom: 2, unit: 2, decode: (b) => Buffer.from(b).swap16().toString('utf16le') };
  }
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return { ...UTF8, bom: 3 };
  return UTF8;
}

/**
 * The last characters of an installer log (about `maxChars`), from a line start when the
 * cut fell mid-line, cleaned of control characters. undefined when there is no such file
 * or it is empty (the installer wrote none, or {log} was not in its argv).
 */
export async function readInstallerLogTail(
  file: string,
  maxChars = OUTPUT_TAIL_BYTES,
): Promise<string | undefined> {
  const tail = await withOpenFile(file, async (handle, size) => {
    const head = Buffer.alloc(3);
    await handle.read(head, 0, 3, 0);
    const encoding = encodingOf(head);
    const body = size - encoding.bom;
    const window = Math.min(body - (body % encoding.unit), maxChars * encoding.unit);
    if (window <= 0) return '';
    const start = size - (body % encoding.unit) - window;
    const buf = Buffer.alloc(window);
    const { bytesRead } = await handle.read(buf, 0, window, start);
    const text = encoding.decode(buf.subarray(0, bytesRead - (bytesRead % encoding.unit)));
    return cleanOutput(start > encoding.bom ? dropPartialFirstLine(text) : text);
  });
  return tail === '' ? undefined : tail;
}

/** Its last non-empty lines for a one-line message: at most `lines` of them and `maxChars`. */
export function lastLinesInline(tail: string, lines = 3, maxChars = 400): string {
  const picked = tail
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-lines)
    .join(' | ');
  return picked.length > maxChars ? `…${picked.slice(picked.length - maxChars + 1)}` : picked;
}

/** Characters of the command's own output kept beside an installer log's tail. */
const COMMAND_SHARE = 1024;

/** The reported `output` of a failure: the command's own tail, then the installer log's. */
export function combinedOutput(
  commandTail: string | undefined,
  installerLog: string,
  installerTail: string | undefined,
): string | undefined {
  if (installerTail === undefined) return commandTail || undefined;
  // the command part gives way (msiexec /qn prints nothing): both fit EVENT_OUTPUT_MAX_CHARS
  const own =
    commandTail && commandTail.length > COMMAND_SHARE
      ? dropPartialFirstLine(commandTail.slice(-COMMAND_SHARE))
      : (commandTail ?? '');
  return [own, `--- ${path.basename(installerLog)} (last lines) ---`, installerTail]
    .filter((part) => part !== '')
    .join('\n');
}
