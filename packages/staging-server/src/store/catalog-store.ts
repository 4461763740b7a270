// The published catalog on disk: catalog/current.json (the exact served bytes)
// beside its signature catalog/current.json.sig, and catalog/history/<sequence>.json
// (every publication, for a later GC).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import {
  failpoint,
  parseCatalog,
  readFileIfExists,
  sha256Hex,
  signDetached,
  verifyDetached,
  writeFileAtomic,
  type Catalog,
} from '@patchbay/core';
import type { PublishedCatalog } from '../mirror.js';
import type { CatalogSigner } from '../trust/mirror-key.js';

const gzip = promisify(gzipCallback);

/**
 * Deterministic bytes for a catalog: same catalog, same bytes, same ETag. Compact: at 20,000
 * patches indentation was 30% of the bytes every client hashes, verifies and parses on every
 * check (docs/performance.md); `jq .` shows it indented.
 */
export function serializeCatalog(catalog: Catalog): Buffer {
  return Buffer.from(JSON.stringify(catalog) + '\n', 'utf8');
}

/**
 * Precompute everything /v1/catalog and /v1/catalog.sig serve: the bytes, their gzip,
 * a strong ETag and the signature over the exact bytes (made now unless a `signature`
 * that verifies for these bytes is given).
 */
export async function toPublishedCatalog(
  catalog: Catalog,
  signer: CatalogSigner,
  bytes: Buffer = serializeCatalog(catalog),
  signature: string = signDetached(bytes, signer.privateKey),
): Promise<PublishedCatalog> {
  return {
    catalog,
    bytes,
    gzip: await gzip(bytes, { level: 6, flush: zlibConstants.Z_FINISH }),
    etag: `"${sha256Hex(bytes)}"`,
    sequence: catalog.sequence,
    upstreamSequence: catalog.upstreamSequence,
    publishedAt: catalog.publishedAt,
    expiresAt: catalog.expiresAt ?? catalog.publishedAt,
    signature,
    keys: signer.keys,
  };
}

/** A catalog file as stored: the exact bytes and what they parse to. */
export interface StoredCatalog {
  catalog: Catalog;
  bytes: Buffer;
}

/** The catalog file at `path`; null when it does not exist. Throws when unreadable or not a valid catalog. */
async function readCatalogFile(path: string): Promise<StoredCatalog | null> {
  const bytes = await readFileIfExists(path);
  return bytes ? { catalog: parseCatalog(bytes, path), bytes } : null;
}

export class CatalogStore {
  readonly dir: string;
  readonly currentPath: string;
  readonly signaturePath: string;
  readonly historyDir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'catalog');
    this.currentPath = join(this.dir, 'current.json');
    this.signaturePath = `${this.currentPath}.sig`;
    this.historyDir = join(this.dir, 'history');
  }

  historyPath(sequence: number): string {
    return join(this.historyDir, `${sequence}.json`);
  }

  /**
   * current.json as stored, signature unchecked (for tools that only need what it names:
   * gc, export); null when none was published yet. Throws when unreadable or invalid.
   */
  readCurrent(): Promise<StoredCatalog | null> {
    return readCatalogFile(this.currentPath);
  }

  /** history/<sequence>.json, as readCurrent; null when it is gone (never published, or removed by gc). */
  readHistory(sequence: number): Promise<StoredCatalog | null> {
    return readCatalogFile(this.historyPath(sequence));
  }

  /**
   * The published catalog, or null when none was published yet. Throws when the file is
   * unreadable or invalid. The stored signature is kept when it verifies with the signer's
   * key; otherwise (missing, torn by a crash, or made by a rotated-out key) the same bytes
   * are signed again and the new signature stored (`resigned` is then true).
   */
  async loadCurrent(
    signer: CatalogSigner,
  ): Promise<{ published: PublishedCatalog; resigned: boolean } | null> {
    const current = await this.readCurrent();
    if (!current) return null;
    const { catalog, bytes } = current;
    const stored = await readFile(this.signaturePath, 'utf8').catch(() => undefined);
    if (stored !== undefined && verifyDetached(bytes, stored, signer.keys.mirror)) {
      return { published: await toPublishedCatalog(catalog, signer, bytes, stored.trim()), resigned: false };
    }
    const published = await toPublishedCatalog(catalog, signer, bytes);
    await writeFileAtomic(this.signaturePath, published.signature);
    return { published, resigned: true };
  }

  /**
   * Publish: history copy first, then the signature, then the one atomic switch of
   * current.json (temp, fsync, rename, fsync dir). A crash in between leaves a pair that
   * does not verify, which loadCurrent repairs by signing current.json again; never a
   * torn current.json.
   */
  async publish(published: PublishedCatalog): Promise<void> {
    await writeFileAtomic(this.historyPath(published.sequence), published.bytes);
    failpoint('publish:after-history');
    await writeFileAtomic(this.signaturePath, published.signature);
    failpoint('publish:after-signature');
    await writeFileAtomic(this.currentPath, published.bytes);
    failpoint('publish:after-current');
  }
}
