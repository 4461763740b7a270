import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

// TODO(core): use sha256Hex from @patchbay/core once hash.ts lands; it was a stub while this
// package was written, and the feed generator runs during `npm run build`, so it cannot wait.

/** SHA-256 (lowercase hex) of a buffer or UTF-8 string. */
export function sha256Of(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const READ_CHUNK = 1 << 20;

/**
 * SHA-256 of the first `size` bytes of an open file, read by position (1 MiB reads are about
 * twice as fast as the 64 KiB stream default). Positional reads leave the handle usable for
 * streaming the same bytes afterwards, so the digest and the body come from one inode.
 */
export async function sha256OfHandle(handle: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
  let position = 0;
  while (position < size) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest('hex');
}
