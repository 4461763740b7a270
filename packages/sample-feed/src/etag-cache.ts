import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { sha256OfHandle } from './digest.js';

/**
 * Strong ETags ("<sha256 of the content>") cached by (path, inode, size, mtimeMs), so a file is
 * hashed once per version. Feed writers replace files by rename, which changes the inode, so
 * a new version is never served under the old tag. Concurrent requests share one hashing.
 */
export class EtagCache {
  private readonly entries = new Map<string, { key: string; etag: Promise<string> }>();

  async etagFor(path: string, handle: FileHandle, stats: Stats): Promise<string> {
    const key = `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
    const cached = this.entries.get(path);
    if (cached && cached.key === key) return cached.etag;
    const etag = sha256OfHandle(handle, stats.size).then((hex) => `"${hex}"`);
    this.entries.set(path, { key, etag });
    etag.catch(() => {
      if (this.entries.get(path)?.etag === etag) this.entries.delete(path);
    });
    return etag;
  }
}
