import { createHash } from 'node:crypto';
import { openRegularFile } from './regular-file.js';

/** Read size for hashing files: SHA-256 here is I/O bound and 1 MiB reads hash about twice as fast as 64 KiB. */
export const HASH_READ_BYTES = 1 << 20;

/** SHA-256 (lowercase hex) of a buffer. */
export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * SHA-256 of a regular file, streamed with 1 MiB reads (about twice as fast as the 64 KiB
 * default). Only a regular file (openRegularFile): a FIFO or device at the path (a hostile
 * repository directory, a detect rule's path) is refused at once, PB_ERR_NOT_A_FILE.
 */
export async function sha256File(path: string): Promise<string> {
  const { handle } = await openRegularFile(path);
  try {
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ highWaterMark: HASH_READ_BYTES, autoClose: false })) {
      hash.update(chunk as Buffer);
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}
