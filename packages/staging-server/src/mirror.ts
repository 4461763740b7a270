// The seam between the sync side (sync/, store/, upstream/) and the HTTP side
// (http/, reports/). The sync side implements MirrorService; http only reads it.
import type { Catalog } from '@patchbay/core';
import type { TufRepositoryView } from './tuf/served-tuf.js';

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
  /** after this the catalog must not be used for installs; the mirror re-signs well before */
  expiresAt: string;
  /**
   * Ed25519 signature (base64) of `bytes` (the identity bytes, also when gzip is served),
   * by `keys.mirror`. Bytes, signature and key live in one object, so a reader can never
   * pair a catalog with another catalog's signature.
   */
  signature: string;
  /** the key that made `signature` (GET /v1/keys) */
  keys: MirrorKeys;
}

/** An old key's endorsement of its successor (core rotationStatement). */
export interface RotationEndorsement {
  /** the old public key, base64 SPKI */
  key: string;
  /** base64 signature by `key` over rotationStatement(next key in the chain) */
  endorsement: string;
}

/** GET /v1/keys */
export interface MirrorKeys {
  /** base64 SPKI of the mirror's current key */
  mirror: string;
  fingerprint: string;
  /** oldest first; the last one endorses `mirror` */
  rotation?: RotationEndorsement[];
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
  /** set when the update was an `import` (air-gapped), not a sync: what was imported */
  imported?: { kind: string; source: string };
}

export interface MirrorStats {
  sequence: number;
  patches: number;
  blobs: number;
  bytes: number;
}

/** One garbage collection of the blob store (gc/collector.ts). */
export interface GcResult {
  at: string;
  /** true: nothing was removed, the figures say what would go */
  dryRun: boolean;
  protectionDays: number;
  /** blobs removed (or that would be) and their bytes */
  removedBlobs: number;
  reclaimedBytes: number;
  /** blobs kept: named by the current catalog or a protected one */
  keptBlobs: number;
  keptBytes: number;
  /** sequences of the catalogs whose blobs were kept (the current one included) */
  protectedCatalogs: number[];
  /** history catalogs removed (served last before the protection window) */
  removedHistory: number[];
  /** stale files removed from store/tmp (names) */
  removedTemp: string[];
  /** set when no blob was removed on purpose (no usable catalog, an unreadable recent history file) */
  blobsSkipped: string | null;
}

/** The last gc that removed for real (persisted across restarts). */
export interface GcSummary {
  at: string;
  removedBlobs: number;
  reclaimedBytes: number;
}

/** /v1/status `storage` (extension): the blob store as gc sees it. */
export interface StorageStatus {
  blobs: number;
  bytes: number;
  /** what a gc now would remove (cached; recomputed after syncs and gc) */
  reclaimableBytes: number;
  lastGc: GcSummary | null;
}

/** sync:start — a sync began; `catalog` is the one served as it started. */
export interface SyncStarted {
  report: SyncReport;
  catalog: PublishedCatalog | null;
}

/** sync:end — a sync ended with `report`; the catalogs served as it started and as it ended. */
export interface SyncEnded {
  report: SyncReport;
  before: PublishedCatalog | null;
  after: PublishedCatalog | null;
}

/** publication — the leader wrote what followers serve outside a sync: a re-signed catalog or TUF roles, a refreshed timestamp. */
export interface Republished {
  cause: 'resign' | 'timestamp';
}

export type SyncEventMap = {
  'sync:start': [SyncStarted];
  'sync:end': [SyncEnded];
  publication: [Republished];
};

/** Where observers (mail, metrics) subscribe to a mirror's syncs; `on` returns the unsubscribe. */
export interface SyncObservers {
  on<E extends keyof SyncEventMap>(event: E, listener: (...args: SyncEventMap[E]) => void): () => void;
}

export interface MirrorService {
  /** sync:start and sync:end of every sync (schedule, start-up, POST /v1/sync), for observers */
  readonly events: SyncObservers;
  /** the catalog being served now, or null before the first publication */
  current(): PublishedCatalog | null;
  /** absolute path of a blob in the store, or null when it is not present (hex already validated) */
  blobPath(hex: string): Promise<string | null>;
  /** the last finished (or the running) sync */
  lastSync(): SyncReport | null;
  /**
   * The last update that succeeded (`ok` or `partial`): a sync, or an import (`imported` set).
   * An air-gapped server shows its import here while syncs of an absent medium fail.
   */
  lastUpdate?(): SyncReport | null;
  isSyncing(): boolean;
  /**
   * Start a sync. Throws PatchbayError PB_ERR_SYNC_IN_PROGRESS when one runs.
   * The returned promise settles when the sync ends (never rejects for sync failures:
   * they are in the report).
   */
  startSync(): Promise<SyncReport>;
  stats(): Promise<MirrorStats>;
  /**
   * Garbage-collect the blob store. Never runs beside a sync: throws PB_ERR_SYNC_IN_PROGRESS
   * while one runs (a sync started during gc waits for it), PB_ERR_LOCKED while a gc runs.
   */
  gc(opts?: { dryRun?: boolean }): Promise<GcResult>;
  /** blob count, bytes, reclaimable bytes and the last gc */
  storage(): Promise<StorageStatus>;
  /** release resources (db handles), wait for a running sync to stop at a consistent point */
  close(): Promise<void>;
  /** trust v2: the served TUF repository (/v1/tuf/…); absent or null when the upstream is a feed */
  tufRepository?(): TufRepositoryView | null;
  /** replicas (cluster/): this process writes the data directory from now on */
  lead?(): Promise<void>;
  /** replicas: another process writes it; a running sync stops before it publishes */
  follow?(): Promise<void>;
  /** replicas, on a follower: read what the leader published; true when something was new */
  reload?(): Promise<boolean>;
  /**
   * replicas, on a follower: reload only when the published files changed (a stat, no
   * database read): what a request for an unknown target may do, however many arrive
   */
  reloadPublication?(): Promise<boolean>;
}
