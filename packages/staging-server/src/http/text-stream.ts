// A large answer's text, streamed as it is made: the parts of a JSON export or the pages of
// a CSV download, read at the pace the client takes them (backpressure). Between parts the
// event loop takes a turn, so that reports and polls arriving meanwhile are answered while a
// long export is made. An error from a part ends the stream: the body is cut short.
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

export function textStream(parts: AsyncIterable<string>): Readable {
  return Readable.from(
    (async function* () {
      for await (const part of parts) {
        yield part;
        await nextTurn();
      }
    })(),
    { objectMode: false },
  );
}
