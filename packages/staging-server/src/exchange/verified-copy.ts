// Copy (or check in place) a file that must have a known size and SHA-256; the bytes are
// hashed as they pass, so a copy costs one read. Used on both sides of an export.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  diskFullError,
  ErrorCodes,
  fsyncFile,
  HASH_READ_BYTES,
  isDiskFullError,
  PatchbayError,
  PRIVATE_FILE_MODE,
} from '@patchbay/core';

export interface Expected {
  sha256: string;
  size: number;
}

/** Counts and hashes what flows through; stops as soon as there is more than `size`. */
class Checker extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;

  constructor(
    private readonly expected: Expected,
    private readonly what: string,
  ) {
    super();
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (err?: Error | null, data?: Buffer) => void,
  ) {
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      done(sizeMismatch(this.what, this.expected.size, `more than ${this.expected.size}`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** Throws when the bytes seen are not the expected ones. */
  assertMatches(): void {
    if (this.bytes !== this.expected.size)
      throw sizeMismatch(this.what, this.expected.size, String(this.bytes));
    const actual = this.hash.digest('hex');
    if (actual !== this.expected.sha256) {
      throw new PatchbayError(
        ErrorCodes.DIGEST_MISMATCH,
        `${this.what}: SHA-256 is ${actual}, expected ${this.expected.sha256}`,
        { file: this.what, expected: this.expected.sha256, actual },
      );
    }
  }
}

function sizeMismatch(what: string, expected: number, actual: string): PatchbayError {
  return new PatchbayError(ErrorCodes.SIZE_MISMATCH, `${what}: ${actual} bytes, expected ${expected}`, {
    file: what,
    expected,
    actual,
  });
}

/**
 * Copy `source` to the new file `dest` (never overwriting), checking size and digest on
 * the way, then fsync it. On any failure `dest` is removed. `what` names the file in errors.
 */
export async function copyVerified(
  source: string,
  dest: string,
  expected: Expected,
  what: string,
): Promise<void> {
  const checker = new Checker(expected, what);
  try {
    await pipeline(
      createReadStream(source, { highWaterMark: HASH_READ_BYTES }),
      checker,
      createWriteStream(dest, { flags: 'wx', mode: PRIVATE_FILE_MODE }),
    );
    checker.assertMatches();
    await fsyncFile(dest);
  } catch (err) {
    await rm(dest, { force: true });
    if (isDiskFullError(err)) throw diskFullError(dest, what, err, 'the partial copy was removed');
    throw err;
  }
}

/** Check a file where it lies (one read). */
export async function checkVerified(path: string, expected: Expected, what: string): Promise<void> {
  const checker = new Checker(expected, what);
  await pipeline(createReadStream(path, { highWaterMark: HASH_READ_BYTES }), checker, async (source) => {
    for await (const _chunk of source) {
      // consumed: the checker already hashed it
    }
  });
  checker.assertMatches();
}
