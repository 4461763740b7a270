// The last lines of an installer's output, for the event that reports its failure: bounded
// (an installer may print megabytes), cleaned of escape sequences and control characters
// (it is shown on the status page, in mails and on terminals), cut at a line start.
import type { FileHandle } from 'node:fs/promises';
import { openRegularFile, sanitizeTerminal } from '@patchbay/core';

/** Bytes of output an event carries, at most (before cleaning). */
export const OUTPUT_TAIL_BYTES = 2048;

/** Clean raw output: CR and CRLF become LF (progress bars), then no escapes or controls but TAB/LF. */
export function cleanOutput(raw: string): string {
  return sanitizeTerminal(raw.replace(/\r\n?/g, '\n')).trim();
}

/**
 * Text read from somewhere inside a file: from the second line on when there is one, else
 * the whole without a broken character at its start.
 */
export function dropPartialFirstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline >= 0 && newline < text.length - 1 ? text.slice(newline + 1) : text.replace(/^\uFFFD+/, '');
}

/**
 * The last `maxBytes` of `file` after byte `from` (where the command's output began),
 * starting at a line when the cut fell mid-line and a later line exists. '' when the
 * command printed nothing; undefined when the file cannot be read.
 */
export async function readOutputTail(
  file: string,
  from: number,
  maxBytes = OUTPUT_TAIL_BYTES,
): Promise<string | undefined> {
  return withOpenFile(file, async (handle, size) => {
    const start = Math.max(from, size - maxBytes);
    const length = size - start;
    if (length <= 0) return '';
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, start);
    let text = buf.subarray(0, bytesRead).toString('utf8');
    // cut mid-way: drop the partial first line (and any broken UTF-8 sequence with it)
    if (start > from) text = dropPartialFirstLine(text);
    return cleanOutput(text);
  });
}

/** `read` with the file open and its size; undefined when it cannot be opened or read. */
export async function withOpenFile<T>(
  file: string,
  read: (handle: FileHandle, size: number) => Promise<T>,
): Promise<T | undefined> {
  let handle: FileHandle | undefined;
  try {
    // an installer decides what is at its log's path: a FIFO there must not hang the report
    const opened = await openRegularFile(file);
    handle = opened.handle;
    return await read(handle, opened.size);
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}
