// Paces a response body to a byte rate, so a test can make a download last long enough to
// be interrupted in the middle (kill -9, SIGTERM) without huge files.
import { Transform, type TransformCallback } from 'node:stream';

/** At most `bytesPerSecond` through this stream, measured from its first chunk. */
export function throttleStream(bytesPerSecond: number): Transform {
  if (!(bytesPerSecond > 0)) throw new RangeError(`throttle must be > 0 bytes/s, got ${bytesPerSecond}`);
  let started = 0;
  let passed = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (started === 0) started = Date.now();
      passed += chunk.length;
      // Hold the chunk until the rate allows it: the time these bytes may take at the most.
      const due = started + (passed / bytesPerSecond) * 1000;
      const wait = due - Date.now();
      if (wait <= 0) return callback(null, chunk);
      timer = setTimeout(() => callback(null, chunk), wait);
    },
    destroy(err, callback) {
      clearTimeout(timer);
      callback(err);
    },
  });
}
