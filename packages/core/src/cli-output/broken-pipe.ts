import type { Writable } from 'node:stream';

const watched = new WeakSet<Writable>();

/**
 * A reader that goes away early (`patchbay-client history | head -1`) makes the next write to
 * stdout fail with EPIPE, emitted as an 'error' event: unhandled, it kills the process with a
 * stack trace in the middle of the command (with the data-dir lock still held). Here it only
 * means nobody reads any more: the rest of the output is dropped and the command ends as usual,
 * releasing its lock. The same for stderr (`2>&1 | head`). Other stream errors stay fatal. Once per
 * stream (main() may run often).
 */
export function endQuietlyOnBrokenPipe(stream: Writable): void {
  if (watched.has(stream)) return;
  watched.add(stream);
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    throw err;
  });
}
