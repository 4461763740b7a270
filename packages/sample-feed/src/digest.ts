import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { HASH_READ_BYTES } from '@patchbay/core';

/**
 * SHA-256 (lowercase hex) of the first `size` bytes of an open file, read by position with
 * 1 MiB reads. Positional reads leave the handle usable for streaming the same bytes
 * afterwards, so the upstream's ETag and body come from one inode even if the path is
 * replaced in between (core's sha256File takes a path, which cannot promise that).
 */
export async function sha256OfHandle(handle: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(HASH_READ_BYTES, Math.max(size, 1)));
  let position = 0;
  while (position < size) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest('hex');
}
