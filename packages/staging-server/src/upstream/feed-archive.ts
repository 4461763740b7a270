// <dataDir>/upstream/feed.json: the bytes of the last accepted feed, so an
// equal sequence can be compared byte for byte and a 304 can re-try held-back patches.
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '@patchbay/core';

export class FeedArchive {
  readonly path: string;
  /** the vendor's signature of those bytes, when upstream.publicKey is set */
  readonly signaturePath: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'upstream', 'feed.json');
    this.signaturePath = `${this.path}.sig`;
  }

  async readSignature(): Promise<Buffer | undefined> {
    return readFileIfExists(this.signaturePath);
  }

  async writeSignature(signature: Buffer): Promise<void> {
    await writeFileAtomic(this.signaturePath, signature);
  }

  async read(): Promise<Buffer | undefined> {
    return readFileIfExists(this.path);
  }

  async write(bytes: Buffer): Promise<void> {
    await writeFileAtomic(this.path, bytes);
  }
}
