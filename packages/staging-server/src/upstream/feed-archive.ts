// <dataDir>/upstream/feed.json: the bytes of the last accepted feed, so an
// equal sequence can be compared byte for byte and a 304 can re-try held-back patches.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@patchbay/core';

export class FeedArchive {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'upstream', 'feed.json');
  }

  async read(): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(bytes: Buffer): Promise<void> {
    await writeFileAtomic(this.path, bytes);
  }
}
