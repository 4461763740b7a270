// What a replica that is not the leader reads of the shared data directory, without writing
// a byte of it: the published catalog (its signature made again in memory when the stored
// one does not match yet: Ed25519 is deterministic, so the bytes are the leader's), and a
// mark that changes whenever the leader publishes, so a reload is skipped when nothing moved.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, PatchbayError, type ContentStore } from '@patchbay/core';
import { METADATA_DIR } from '@patchbay/core/tuf';
import type { PublishedCatalog } from '../mirror.js';
import { CatalogStore, toPublishedCatalog } from '../store/catalog-store.js';
import type { CatalogSigner } from '../trust/mirror-key.js';
import { servedRepositoryDir } from '../tuf/served-repository.js';
import { assertBlobsPresent } from '../sync/verify-published-blobs.js';
import type { Leadership } from './leadership.js';

/** current.json as published, read-only; null when none was published yet. Throws when unusable. */
export async function readPublishedCatalog(
  catalogs: CatalogStore,
  store: ContentStore,
  signer: CatalogSigner,
): Promise<PublishedCatalog | null> {
  const current = await catalogs.readCurrent();
  if (!current) return null;
  await assertBlobsPresent(current.catalog, store);
  return toPublishedCatalog(current.catalog, signer, current.bytes);
}

/**
 * The files every publication replaces last (current.json, the TUF timestamp.json), by
 * inode, size and mtime: equal marks, nothing was published in between.
 */
export async function publicationMark(dataDir: string): Promise<string> {
  const files = [
    join(dataDir, 'catalog', 'current.json'),
    join(servedRepositoryDir(dataDir), METADATA_DIR, 'timestamp.json'),
  ];
  const parts = await Promise.all(
    files.map(async (file) => {
      const info = await stat(file).catch(() => undefined);
      return info ? `${info.ino}:${info.size}:${info.mtimeMs}` : '-';
    }),
  );
  return parts.join('|');
}

/**
 * The fencing check before a write that publishes: throws PB_ERR_ABORTED unless this
 * replica still holds the leader lock (asked of PostgreSQL, not remembered).
 */
export function leaderFence(leadership: Pick<Leadership, 'stillLeader'>): () => Promise<void> {
  return async () => {
    if (await leadership.stillLeader()) return;
    throw new PatchbayError(
      ErrorCodes.ABORTED,
      'leadership lost before publishing: nothing was published (the new leader publishes)',
      { stage: 'before publishing' },
    );
  };
}

/** A CatalogStore whose publish() passes the fence first. */
export class FencedCatalogStore extends CatalogStore {
  constructor(
    dataDir: string,
    private readonly fence: () => Promise<void>,
  ) {
    super(dataDir);
  }

  override async publish(published: PublishedCatalog): Promise<void> {
    await this.fence();
    await super.publish(published);
  }
}

/**
 * A follower's reloads of what the leader publishes: `load` runs only when the publication
 * mark moved, and one at a time (callers that arrive together share the one in flight), so
 * requests for unknown targets cost a stat each, never a reload each.
 */
export class PublicationReloads {
  private mark: string | null = null;
  private inFlight: Promise<boolean> | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly load: () => Promise<void>,
  ) {}

  /** True when the mark moved and `load` ran. */
  reloadIfPublished(): Promise<boolean> {
    this.inFlight ??= this.check().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async check(): Promise<boolean> {
    const mark = await publicationMark(this.dataDir);
    if (mark === this.mark) return false;
    this.mark = mark;
    await this.load();
    return true;
  }
}
