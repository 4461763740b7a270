// The MirrorService the HTTP side reads (see ../mirror.ts): owns the data
// directory, runs one sync at a time, and holds the published catalog in memory.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import {
  ContentStore,
  createDispatcher,
  errorMessage,
  ErrorCodes,
  failpoint,
  isPatchbayError,
  PatchbayError,
  type BlobProgressListener,
  type Logger,
  type ServerConfig,
  redactCredentials,
} from '@patchbay/core';
import type { Leadership } from '../cluster/leadership.js';
import { FencedCatalogStore, PublicationReloads, leaderFence } from '../cluster/published-files.js';
import { GcCoordinator } from '../gc/gc-coordinator.js';
import type {
  GcResult,
  MirrorService,
  MirrorStats,
  PublishedCatalog,
  StorageStatus,
  SyncReport,
} from '../mirror.js';
import { CatalogStore } from '../store/catalog-store.js';
import { lockDataDirForWriting } from '../cluster/writer-lock.js';
import type { DataDirLock } from '../store/data-dir-lock.js';
import { SyncStateStore } from '../store/sync-state.js';
import { resignDueAt } from '../trust/catalog-expiry.js';
import { loadMirrorSigner, mirrorKeyFile, type CatalogSigner } from '../trust/mirror-key.js';
import { prunePartials } from '../store/partials.js';
import { removeStrayTemps } from '../store/stray-temps.js';
import { FeedArchive } from '../upstream/feed-archive.js';
import type { Clock } from '../tuf/timestamp-refresh.js';
import { isTufUpstream, openTufMirror, type ServedTuf, type TufRepositoryView } from '../tuf/served-tuf.js';
import { serverSignsTargets, publishServerSigned } from '../tuf/server-signed.js';
import { runTufSync } from '../tuf/tuf-sync.js';
import { catalogBlobs } from './build-catalog.js';
import { loadPublishedCatalog, recoverLastSync } from './mirror-recovery.js';
import { newSyncReport, resignIfDue, runSync, type ResignContext, type SyncContext } from './sync-run.js';
import { SyncEvents } from './sync-events.js';

export interface MirrorServiceOptions {
  /** first retry delay in ms (default: core's); tests shorten it */
  retryBaseMs?: number;
  /** longest wait between two re-sign checks (default 5 minutes); the check also runs when a catalog falls due */
  resignCheckMs?: number;
  /** told each sync's download progress (`patchbay-server sync` draws a bar on a terminal) */
  syncProgress?: BlobProgressListener;
  /** trust v2: the clock of the TUF timestamp refresher (tests advance it by hand) */
  clock?: Clock;
  /**
   * The data-directory lock, already taken by the caller, who releases it (`serve`'s
   * data-dir plugin, last of all at close). Absent: taken here and released by close().
   */
  lock?: DataDirLock;
  /**
   * Replicas (cluster/): whether this process may write the data directory. Absent: it always
   * may (one server). A follower opens read-only and reloads what the leader publishes;
   * lead() and follow() switch, and every publication passes stillLeader() first (fencing).
   */
  leadership?: Pick<Leadership, 'isLeader' | 'stillLeader'>;
}

const DEFAULT_RESIGN_CHECK_MS = 5 * 60_000;
/** a failed re-sign is tried again after this, not in a tight loop */
const RESIGN_RETRY_MS = 30_000;

export async function createMirrorService(
  config: ServerConfig,
  logger: Logger,
  options: MirrorServiceOptions = {},
): Promise<MirrorService> {
  const log = logger.child({ component: 'mirror' });
  const ownLock = options.lock ? null : await lockDataDirForWriting(config, log);
  try {
    return await openMirror(config, log, ownLock, options);
  } catch (err) {
    await ownLock?.release();
    throw err;
  }
}

async function openMirror(
  config: ServerConfig,
  log: Logger,
  ownLock: DataDirLock | null,
  options: MirrorServiceOptions,
): Promise<MirrorService> {
  const leads = options.leadership?.isLeader() ?? true;
  const fence = options.leadership ? leaderFence(options.leadership) : undefined;
  // The key first: a readable-by-others key stops the server before it serves anything.
  const signer = await loadMirrorSigner(config, ({ keyFile, fingerprint }) =>
    log.warn({ keyFile, fingerprint }, 'no mirror signing key found; made a new one'),
  );
  log.info({ keyFile: signer.keyFile, fingerprint: signer.keys.fingerprint }, 'mirror signing key loaded');
  const store = new ContentStore(join(config.dataDir, 'store'));
  const catalogs = fence ? new FencedCatalogStore(config.dataDir, fence) : new CatalogStore(config.dataDir);
  const current = await loadPublishedCatalog(catalogs, store, signer, log, leads);
  const state = await SyncStateStore.open(config, log);
  let last: SyncReport | null;
  let dispatcher: Dispatcher | undefined;
  let tuf: ServedTuf | null = null;
  try {
    last = (await state.lastSync()) ?? null;
    // trust v2 (upstream.trustedRoot): the online key (refused when others may read it), the
    // served TUF repository and its timestamp refresher (tuf/)
    // signing.targets "mirror": the same served repository, its targets signed here (tuf/server-signed.ts)
    if (isTufUpstream(config) || serverSignsTargets(config))
      tuf = await openTufMirror(config, log, options.clock, { follower: true, ...(fence ? { fence } : {}) });
    // One agent (or proxy agent) for the service's life: keep-alive across syncs. file: URLs ignore it.
    dispatcher = createDispatcher({ proxy: config.upstream.proxy });
  } catch (err) {
    await state.close();
    throw err;
  }
  const parts = { ownLock, store, catalogs, state, signer, dispatcher, tuf };
  const mirror = new Mirror(config, log, options, parts, current, last);
  mirror.restoreLastUpdate((await state.lastUpdate()) ?? null);
  if (leads) await mirror.lead({ catalogRead: true });
  return mirror;
}

/** What openMirror opened for the service; its close() closes them. */
interface MirrorParts {
  /** null: the caller holds the data-dir lock and releases it */
  ownLock: DataDirLock | null;
  store: ContentStore;
  catalogs: CatalogStore;
  state: SyncStateStore;
  signer: CatalogSigner;
  dispatcher: Dispatcher | undefined;
  tuf: ServedTuf | null;
}

class Mirror implements MirrorService {
  readonly events: SyncEvents;
  private running: Promise<SyncReport> | null = null;
  private runningReport: SyncReport | null = null;
  private abort: AbortController | null = null;
  private closed = false;
  /** a re-sign in progress: syncs wait for it, so the two never publish at once */
  private resigning: Promise<void> | null = null;
  private resignTimer: NodeJS.Timeout | null = null;
  private gcCoordinator: GcCoordinator | null = null;
  /** replicas: this process writes the data directory (always, with one server) */
  private leading = false;
  /** a follower's reloads of the leader's publications (cluster/published-files.ts) */
  private readonly publications: PublicationReloads;

  constructor(
    private readonly config: ServerConfig,
    private readonly log: Logger,
    private readonly options: MirrorServiceOptions,
    private readonly parts: MirrorParts,
    private published: PublishedCatalog | null,
    private last: SyncReport | null,
  ) {
    this.events = new SyncEvents(log);
    parts.tuf?.onRefreshed(() => this.events.emit('publication', { cause: 'timestamp' }));
    this.publications = new PublicationReloads(config.dataDir, () => this.loadPublication());
  }

  tufRepository(): TufRepositoryView | null {
    return this.parts.tuf?.view() ?? null;
  }

  current(): PublishedCatalog | null {
    return this.published;
  }

  async blobPath(hex: string): Promise<string | null> {
    const path = this.parts.store.blobPath(hex);
    try {
      return (await stat(path)).isFile() ? path : null;
    } catch {
      return null;
    }
  }

  lastSync(): SyncReport | null {
    return this.runningReport ?? this.last;
  }

  /** the last sync or import that succeeded (persisted by SyncStateStore.setLastSync) */
  private lastSucceeded: SyncReport | null = null;

  restoreLastUpdate(report: SyncReport | null): void {
    this.lastSucceeded = report;
  }

  lastUpdate(): SyncReport | null {
    return this.lastSucceeded;
  }

  isSyncing(): boolean {
    return this.running !== null;
  }

  startSync(): Promise<SyncReport> {
    if (this.closed) {
      throw new PatchbayError(ErrorCodes.ABORTED, 'mirror service is closed', {
        dataDir: this.config.dataDir,
      });
    }
    this.assertLeading('sync');
    if (this.running) {
      throw new PatchbayError(ErrorCodes.SYNC_IN_PROGRESS, 'a sync is already running', {
        startedAt: this.runningReport?.startedAt,
      });
    }
    const report = newSyncReport();
    const abort = new AbortController();
    const before = this.published;
    this.runningReport = report;
    this.abort = abort;
    // sync:end once isSyncing() is false again; close() waits for its observers too
    this.running = this.execute(report, abort.signal)
      .finally(() => {
        this.running = null;
        this.runningReport = null;
        this.abort = null;
      })
      .then((ended) => {
        this.events.emit('sync:end', { report: ended, before, after: this.published });
        return ended;
      });
    this.events.emit('sync:start', { report, catalog: before });
    return this.running;
  }

  private resignContext(): ResignContext {
    return {
      config: this.config,
      state: this.parts.state,
      catalogs: this.parts.catalogs,
      signer: this.parts.signer,
      current: () => this.published,
      onPublished: (published) => {
        this.published = published;
      },
    };
  }

  /** signing.targets "mirror": sign and publish the TUF roles of the served catalog; true when a new snapshot was published. */
  private async publishServerSigned(): Promise<boolean> {
    if (!this.parts.tuf || !serverSignsTargets(this.config)) return false;
    const outcome = await publishServerSigned(
      this.config,
      this.parts.tuf,
      this.published?.catalog ?? null,
      this.log,
    );
    return outcome?.published ?? false;
  }

  /**
   * Re-sign the served catalog when it is due (no-op otherwise), then arm the timer for
   * the next check: at the due time, or after resignCheckMs, whichever is sooner.
   * Skipped while a sync runs: the sync re-signs when it publishes.
   */
  async checkResign(): Promise<void> {
    if (this.closed || !this.leading) return;
    let retryMs: number | undefined;
    if (!this.running && !this.resigning) {
      // mirror mode: the TUF roles follow the catalog, and are re-signed when due, on the same timer
      this.resigning = resignIfDue(this.resignContext(), this.log)
        .then(async (catalog) => (await this.publishServerSigned()) || catalog !== null)
        .then(
          (republished) => void (republished && this.events.emit('publication', { cause: 'resign' })),
          (err: unknown) => {
            retryMs = RESIGN_RETRY_MS;
            this.log.error(
              { err: errorMessage(err) },
              're-signing the catalog failed; the current one stays served',
            );
          },
        );
      try {
        await this.resigning;
      } finally {
        this.resigning = null;
      }
    }
    this.armResignTimer(retryMs);
  }

  private armResignTimer(retryMs?: number): void {
    if (this.closed) return;
    if (this.resignTimer) clearTimeout(this.resignTimer);
    const maxWait = this.options.resignCheckMs ?? DEFAULT_RESIGN_CHECK_MS;
    const due = this.published
      ? resignDueAt(this.published.catalog.expiresAt, this.config) - Date.now()
      : maxWait;
    // At least 1 s apart: a clock or config oddity must not become a busy loop.
    const wait = Math.max(1000, Math.min(maxWait, retryMs ?? maxWait, due + 50));
    this.resignTimer = setTimeout(() => void this.checkResign(), wait);
    this.resignTimer.unref();
  }

  private async execute(report: SyncReport, signal: AbortSignal): Promise<SyncReport> {
    await this.resigning;
    await this.collector.idle();
    await this.persistReport(report);
    const ctx: SyncContext = {
      ...this.resignContext(),
      logger: this.log,
      store: this.parts.store,
      archive: new FeedArchive(this.config.dataDir),
    };
    if (this.parts.dispatcher) ctx.dispatcher = this.parts.dispatcher;
    if (this.options.retryBaseMs !== undefined) ctx.retryBaseMs = this.options.retryBaseMs;
    if (this.options.syncProgress) ctx.progress = this.options.syncProgress;
    try {
      if (this.parts.tuf && !serverSignsTargets(this.config))
        await runTufSync(ctx, report, signal, this.parts.tuf);
      else {
        await runSync(ctx, report, signal);
        // signing.targets "mirror": the TUF roles from the catalog the feed pipeline published
        if (this.parts.tuf && (await this.publishServerSigned())) report.published = true;
      }
      // Everything wanted was fetched: partials left in store/tmp are for files no longer wanted.
      if (report.outcome === 'ok') await this.dropUnwantedPartials();
    } catch (err) {
      report.outcome = 'failed';
      report.error = errorMessage(err);
      this.log.error(
        {
          code: isPatchbayError(err) ? err.code : undefined,
          err: report.error,
          upstream: redactCredentials(this.config.upstream.url),
        },
        'sync failed; the previous catalog stays published',
      );
    }
    report.finishedAt = new Date().toISOString();
    // What /v1/status, the status page, mails and state.sqlite keep: no URL's user:password.
    this.last = {
      ...report,
      error: report.error === null ? null : redactCredentials(report.error),
      heldBack: report.heldBack.map((h) => ({ ...h, error: redactCredentials(h.error) })),
    };
    this.collector.invalidate();
    await this.persistReport(this.last);
    failpoint('sync:after-report');
    // A new publication moves the due time; a failed sync may have left one due.
    queueMicrotask(() => void this.checkResign());
    return this.last;
  }

  /** Best effort: a temp file that cannot be removed now is retried after the next sync. */
  private async dropUnwantedPartials(): Promise<void> {
    try {
      const removed = await prunePartials(this.parts.store, new Set());
      if (removed.length > 0) this.log.info({ removed }, 'removed partial downloads no longer wanted');
    } catch (err) {
      this.log.warn({ err: errorMessage(err), dir: this.parts.store.tmpDir }, 'could not clean store/tmp');
    }
  }

  /** The report survives restarts (/v1/status); a failure to store it is logged, not fatal. */
  private async persistReport(report: SyncReport): Promise<void> {
    if (report.outcome === 'ok' || report.outcome === 'partial') this.lastSucceeded = report;
    try {
      await this.parts.state.setLastSync(report);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'could not store the sync report');
    }
  }

  async stats(): Promise<MirrorStats> {
    const catalog = this.published?.catalog;
    if (!catalog) return { sequence: 0, patches: 0, blobs: 0, bytes: 0 };
    const blobs = catalogBlobs(catalog);
    let bytes = 0;
    for (const size of blobs.values()) bytes += size;
    return { sequence: catalog.sequence, patches: catalog.patches.length, blobs: blobs.size, bytes };
  }

  /** gc never runs beside a sync: gc() refuses while one runs, a sync waits for a gc */
  private get collector(): GcCoordinator {
    this.gcCoordinator ??= new GcCoordinator({
      dataDir: this.config.dataDir,
      protectionDays: this.config.storage?.gcProtectionDays ?? 7,
      logger: this.log,
      current: () => this.published?.catalog ?? null,
      syncStartedAt: () => (this.runningReport ? Date.parse(this.runningReport.startedAt) : null),
    });
    return this.gcCoordinator;
  }

  gc(opts: { dryRun?: boolean } = {}): Promise<GcResult> {
    if (this.closed) {
      throw new PatchbayError(ErrorCodes.ABORTED, 'mirror service is closed', {
        dataDir: this.config.dataDir,
      });
    }
    this.assertLeading('gc');
    if (this.running) {
      throw new PatchbayError(
        ErrorCodes.SYNC_IN_PROGRESS,
        'a sync is running; gc waits until it has finished',
        {
          startedAt: this.runningReport?.startedAt,
        },
      );
    }
    return this.collector.run(opts);
  }

  storage(): Promise<StorageStatus> {
    return this.collector.storage();
  }

  /**
   * This process writes the data directory from now on (at open, or elected among replicas):
   * leftovers of an interrupted write go, a sync the previous writer left running is marked
   * failed, the TUF refresher and the re-sign timer start.
   */
  async lead(opts: { catalogRead?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.leading = true;
    const stray = await removeStrayTemps(this.config.dataDir, mirrorKeyFile(this.config));
    if (stray.length > 0)
      this.log.warn({ removed: stray }, 'removed temp files left by an interrupted write');
    await this.parts.store.cleanTemp();
    const { catalogs, store, signer, state } = this.parts;
    if (!opts.catalogRead) {
      // what the old leader published last, whether or not this follower had reloaded it yet;
      // a signature file it had not written yet is written now
      this.published = (await loadPublishedCatalog(catalogs, store, signer, this.log)) ?? this.published;
      await this.parts.tuf?.repository.reload();
    }
    this.last = await recoverLastSync(state, this.log);
    await this.parts.tuf?.lead();
    await this.checkResign();
  }

  /** Replicas: another process writes now. A running sync stops before it publishes. */
  async follow(): Promise<void> {
    this.leading = false;
    if (this.resignTimer) clearTimeout(this.resignTimer);
    this.abort?.abort();
    await this.running?.catch(() => undefined);
    await this.resigning;
    await this.collector.idle();
    await this.parts.tuf?.follow();
  }

  /** Replicas, on a follower: the leader's last sync and publication; true when it published anew. */
  async reload(): Promise<boolean> {
    if (this.leading || this.closed) return false;
    this.last = (await this.parts.state.lastSync()) ?? this.last;
    this.lastSucceeded = (await this.parts.state.lastUpdate()) ?? this.lastSucceeded;
    return this.reloadPublication();
  }

  /** The publication part of reload(): a stat, and a load only when the leader published. */
  reloadPublication(): Promise<boolean> {
    if (this.leading || this.closed) return Promise.resolve(false);
    return this.publications.reloadIfPublished();
  }

  private async loadPublication(): Promise<void> {
    const { catalogs, store, signer } = this.parts;
    this.published = (await loadPublishedCatalog(catalogs, store, signer, this.log, false)) ?? this.published;
    await this.parts.tuf?.repository.reload();
    this.collector.invalidate();
  }

  private assertLeading(what: string): void {
    if (this.leading) return;
    throw new PatchbayError(ErrorCodes.LOCKED, `this replica is not the leader: the leader runs ${what}`, {
      dataDir: this.config.dataDir,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.resignTimer) clearTimeout(this.resignTimer);
    await this.resigning;
    await this.collector.idle();
    if (this.running) {
      this.abort?.abort();
      await this.running.catch(() => undefined);
    }
    await this.parts.tuf?.close();
    await this.parts.state
      .close()
      .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'closing state'));
    await this.parts.dispatcher?.close().catch(() => undefined);
    await this.parts.ownLock?.release();
  }
}
