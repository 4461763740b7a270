// The published catalog on disk: catalog/current.json (the exact served bytes)
// and catalog/history/<sequence>.json (every publication, for a later GC).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import { parseCatalog, sha256Hex, writeFileAtomic, type Catalog } from '@patchbay/core';
import type { PublishedCatalog } from '../mirror.js';

const gzip = promisify(gzipCallback);

/** Deterministic bytes for a catalog: same catalog, same bytes, same ETag. */
export function serializeCatalog(catalog: Catalog): Buffer {
  return Buffer.from(JSON.stringify(catalog, null, 2) + '\n', 'utf8');
}

/** Precompute everything /v1/catalog serves: the bytes, their gzip and a strong ETag. */
export async function toPublishedCatalog(
  catalog: Catalog,
  bytes: Buffer = serializeCatalog(catalog),
): Promise<PublishedCatalog> {
  return {
    catalog,
    bytes,
    gzip: await gzip(bytes, { level: 6, flush: zlibConstants.Z_FINISH }),
    etag: `"${sha256Hex(bytes)}"`,
    sequence: catalog.sequence,
    upstreamSequence: catalog.upstreamSequence,
    publishedAt: catalog.publishedAt,
  };
}

export class CatalogStore {
  readonly dir: string;
  readonly currentPath: string;
  readonly historyDir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'catalog');
    this.currentPath = join(this.dir, 'current.json');
    this.historyDir = join(this.dir, 'history');
  }

  historyPath(sequence: number): string {
    return join(this.historyDir, `${sequence}.json`);
  }

  /** The published catalog, or null when none was published yet. Throws when the file is unreadable or invalid. */
  async loadCurrent(): Promise<PublishedCatalog | null> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.currentPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return toPublishedCatalog(parseCatalog(bytes, this.currentPath), bytes);
  }

  /**
   * Publish: history copy first, then the one atomic switch of current.json
   * (temp, fsync, rename, fsync dir). A crash between the two leaves the old
   * catalog served and an unreferenced history file, never a torn current.json.
   */
  async publish(published: PublishedCatalog): Promise<void> {
    await writeFileAtomic(this.historyPath(published.sequence), published.bytes);
    await writeFileAtomic(this.currentPath, published.bytes);
  }
}
