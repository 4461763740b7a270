// The seam between the sync side (sync/, store/, upstream/) and the HTTP side
// (http/, reports/). The sync side implements MirrorService; http only reads it.
import type { Catalog } from '@patchbay/core';

/** A published catalog with everything the HTTP layer needs precomputed at publish time. */
export interface PublishedCatalog {
  catalog: Catalog;
  /** the exact bytes served at /v1/catalog */
  bytes: Buffer;
  /** gzip of `bytes`, computed once at publish */
  gzip: Buffer;
  /** strong ETag, quoted: "\"<sha256 of bytes>\"" */
  etag: string;
  sequence: number;
  upstreamSequence: number;
  publishedAt: string;
}

export interface HeldBackPatch {
  patchId: string;
  error: string;
}

export interface SyncReport {
  startedAt: string;
  finishedAt: string | null;
  outcome: 'ok' | 'partial' | 'failed' | 'running';
  error: string | null;
  upstreamSequence: number | null;
  heldBack: HeldBackPatch[];
  /** extensions */
  notModified: boolean;
  published: boolean;
  filesFetched: number;
  bytesFetched: number;
}

export interface MirrorStats {
  sequence: number;
  patches: number;
  blobs: number;
  bytes: number;
}

export interface MirrorService {
  /** the catalog being served now, or null before the first publication */
  current(): PublishedCatalog | null;
  /** absolute path of a blob in the store, or null when it is not present (hex already validated) */
  blobPath(hex: string): Promise<string | null>;
  /** the last finished (or the running) sync */
  lastSync(): SyncReport | null;
  isSyncing(): boolean;
  /**
   * Start a sync. Throws PatchbayError PB_ERR_SYNC_IN_PROGRESS when one runs.
   * The returned promise settles when the sync ends (never rejects for sync failures:
   * they are in the report).
   */
  startSync(): Promise<SyncReport>;
  stats(): Promise<MirrorStats>;
  /** release resources (db handles), wait for a running sync to stop at a consistent point */
  close(): Promise<void>;
}
