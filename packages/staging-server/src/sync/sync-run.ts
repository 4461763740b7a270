// One sync, start to end: feed -> accept -> filter -> download -> hold back -> publish.
import type { KeyObject } from 'node:crypto';
import { dirname } from 'node:path';
import {
  ErrorCodes,
  PatchbayError,
  diskFullError,
  errorMessage,
  failpoint,
  isDiskFullError,
  writeFileAtomic,
  type Catalog,
  type Feed,
  type Logger,
  type RetryOptions,
  verifyDetached,
} from '@patchbay/core';
import type { PublishedCatalog, SyncReport } from '../mirror.js';
import { toPublishedCatalog, type CatalogStore } from '../store/catalog-store.js';
import type { SyncStateStore } from '../store/sync-state.js';
import type { FeedArchive } from '../upstream/feed-archive.js';
import { expiryFor, isResignDue } from '../trust/catalog-expiry.js';
import { feedSignatureUrl, parseUpstreamKey, verifyFeedSignature } from '../trust/feed-signature.js';
import type { CatalogSigner } from '../trust/mirror-key.js';
import { fetchFeed, fetchFeedSignature } from '../upstream/feed-fetcher.js';
import { resolveFeedUrl } from '../upstream/feed-location.js';
import { originPolicy } from '../upstream/origin-policy.js';
import { failedPatches, planBlobs } from './blob-downloads.js';
import { buildCatalog, republishCatalog, sameCatalogContent } from './build-catalog.js';
import { checkFeedSequence } from './feed-acceptance.js';
import { holdBack } from '@patchbay/core';
import { filterFeed, unknownFilterProducts } from './mirror-filter.js';
import {
  downloadMissingBlobs,
  syncRetryOptions,
  throwIfAborted,
  type SyncStageContext,
} from './sync-stages.js';
import { assertBlobsPresent } from './verify-published-blobs.js';
import { extendChain } from '../tiers/mirror-chain.js';
import { parseUpstreamFeed } from '../tiers/upstream-document.js';

export interface SyncContext extends SyncStageContext {
  logger: Logger;
  catalogs: CatalogStore;
  state: SyncStateStore;
  archive: FeedArchive;
  /** signs every published catalog */
  signer: CatalogSigner;
  current(): PublishedCatalog | null;
  /** called right after current.json was switched */
  onPublished(published: PublishedCatalog): void;
}

export function newSyncReport(now: Date = new Date()): SyncReport {
  return {
    startedAt: now.toISOString(),
    finishedAt: null,
    outcome: 'running',
    error: null,
    upstreamSequence: null,
    heldBack: [],
    notModified: false,
    published: false,
    filesFetched: 0,
    bytesFetched: 0,
  };
}

interface FeedForSync {
  feed: Feed;
  /** false when upstream sent 304 or the same bytes: the stored feed is used again */
  fresh: boolean;
  /** tiered mirrors: the mirrors the upstream document passed through ([] for a vendor feed) */
  chain: string[];
}

/** Fetch feed.json conditionally and decide which feed this sync works from. */
async function obtainFeed(
  ctx: SyncContext,
  feedUrl: string,
  retry: RetryOptions,
  report: SyncReport,
): Promise<FeedForSync> {
  const upstreamKey = ctx.config.upstream.publicKey ? parseUpstreamKey(ctx.config.upstream.publicKey) : null;
  const storedBytes = await ctx.archive.read();
  // Validators only make sense while we still hold the bytes they describe (and, with a
  // vendor key, hold them with a signature that verifies: a 304 must not bless an unsigned feed).
  const storedUsable = storedBytes !== undefined && (await storedFeedTrusted(ctx, storedBytes, upstreamKey));
  const validators = storedUsable ? await ctx.state.validators() : {};
  const fetched = await fetchFeed(feedUrl, validators, {
    ...retry,
    maxBytes: ctx.config.upstream.maxFeedBytes,
  });

  if (fetched.notModified) {
    if (!storedBytes) {
      throw new PatchbayError(
        ErrorCodes.HTTP_STATUS,
        `feed ${feedUrl}: 304 Not Modified without a stored feed`,
        {
          url: feedUrl,
          status: 304,
        },
      );
    }
    report.notModified = true;
    const stored = parseUpstreamFeed(storedBytes, ctx.archive.path, ctx.signer.keys.fingerprint);
    return { feed: stored.feed, fresh: false, chain: stored.chain };
  }

  // Verified before a single byte of the feed is parsed or trusted.
  let signature: Buffer | undefined;
  if (upstreamKey) {
    signature = await fetchFeedSignature(feedSignatureUrl(feedUrl), retry);
    verifyFeedSignature(fetched.bytes, signature, upstreamKey, feedUrl);
  }
  // A vendor feed or a parent mirror's catalog; a loop is refused before anything is accepted.
  const { feed, chain } = parseUpstreamFeed(fetched.bytes, feedUrl, ctx.signer.keys.fingerprint);
  report.upstreamSequence = feed.sequence;
  const verdict = checkFeedSequence(feed, fetched.bytes, await ctx.state.lastAcceptedSequence(), storedBytes);
  if (signature) await ctx.archive.writeSignature(signature);
  if (verdict === 'new') await ctx.archive.write(fetched.bytes);
  failpoint('sync:after-feed-archive');
  // Validators are stored only now that the feed is accepted (and its bytes are on disk).
  await ctx.state.recordAcceptedFeed(feed.sequence, fetched.validators);
  failpoint('sync:after-accept');
  return { feed, fresh: verdict === 'new', chain };
}

/** Without a vendor key any stored feed is usable; with one, only a stored feed whose stored signature verifies. */
async function storedFeedTrusted(ctx: SyncContext, bytes: Buffer, key: KeyObject | null): Promise<boolean> {
  if (key === null) return true;
  const signature = await ctx.archive.readSignature();
  return signature !== undefined && verifyDetached(bytes, signature.toString('utf8'), key);
}

/** Runs one sync, filling `report` as it goes. Throws on feed errors; per-file errors become held-back patches. */
export async function runSync(ctx: SyncContext, report: SyncReport, signal: AbortSignal): Promise<void> {
  const { config } = ctx;
  const feedUrl = resolveFeedUrl(config.upstream.url);
  const log = ctx.logger.child({ feedUrl });
  const started = Date.now();
  // Where this sync may fetch from (docs/security.md): every request below, each redirect
  // hop included, is checked against it before it is made.
  const policy = originPolicy(feedUrl, config.upstream.allowedOrigins);
  const retry = syncRetryOptions(ctx, policy, signal, log);

  log.info('sync started');
  const { feed, fresh, chain } = await obtainFeed(ctx, feedUrl, retry, report);
  report.upstreamSequence = feed.sequence;
  log.info(
    { sequence: feed.sequence, patches: feed.patches.length, fresh, notModified: report.notModified },
    'feed accepted',
  );
  throwIfAborted(signal, 'after fetching the feed');

  const unknown = unknownFilterProducts(feed, config.mirror.products);
  if (unknown.length > 0)
    log.warn({ products: unknown }, 'mirror.products names products the feed does not have');
  const mirrored = filterFeed(feed, config.mirror.products);

  const plan = planBlobs(mirrored.patches, feedUrl, policy);
  const { fetched, downloads } = await downloadMissingBlobs(ctx, plan.jobs, retry, signal, report, log);

  const failed = new Map([...plan.invalid, ...failedPatches(fetched, downloads.failures)]);
  report.heldBack = holdBack(mirrored.patches, failed);
  const heldBackIds = new Set(report.heldBack.map((h) => h.patchId));
  if (report.heldBack.length > 0) log.warn({ heldBack: report.heldBack }, 'patches held back');

  await publishIfChanged(ctx, mirrored, heldBackIds, report, signal, log, chain);
  report.outcome = report.heldBack.length > 0 ? 'partial' : 'ok';
  log.info(
    {
      outcome: report.outcome,
      sequence: ctx.current()?.sequence ?? null,
      upstreamSequence: feed.sequence,
      published: report.published,
      filesFetched: report.filesFetched,
      bytesFetched: report.bytesFetched,
      heldBack: report.heldBack.length,
      durationMs: Date.now() - started,
    },
    'sync finished',
  );
}

async function publishIfChanged(
  ctx: SyncContext,
  mirrored: Feed,
  heldBackIds: ReadonlySet<string>,
  report: SyncReport,
  signal: AbortSignal,
  log: Logger,
  upstreamChain: readonly string[],
): Promise<void> {
  const current = ctx.current();
  const now = new Date();
  const sequence = await nextMirrorSequence(ctx);
  const meta = {
    sequence,
    publishedAt: now.toISOString(),
    expiresAt: expiryFor(now, ctx.config),
    mirrorChain: extendChain(upstreamChain, ctx.signer.keys.fingerprint),
  };
  const candidate = buildCatalog(mirrored, heldBackIds, meta);
  if (current && sameCatalogContent(current.catalog, candidate)) {
    if (!isResignDue(current.catalog.expiresAt, now, ctx.config)) {
      log.info({ sequence: current.sequence }, 'catalog unchanged; nothing to publish');
      return;
    }
    log.info(
      { sequence: current.sequence, expiresAt: current.expiresAt },
      'catalog unchanged but due for re-signing',
    );
  }

  await assertBlobsPresent(candidate, ctx.store);
  throwIfAborted(signal, 'before publishing');
  await publishSigned(ctx, candidate, log);
  report.published = true;
}

/** The mirror counter only grows, even if state.sqlite was lost while current.json survived. */
export async function nextMirrorSequence(ctx: Pick<SyncContext, 'state' | 'current'>): Promise<number> {
  return Math.max(await ctx.state.mirrorSequence(), ctx.current()?.sequence ?? 0) + 1;
}

/** Sign, store (counter first, then signature and catalog) and switch the served catalog. */
export async function publishSigned(
  ctx: Pick<SyncContext, 'state' | 'catalogs' | 'signer' | 'onPublished' | 'current'>,
  catalog: Catalog,
  log: Logger,
): Promise<PublishedCatalog> {
  const published = await toPublishedCatalog(catalog, ctx.signer);
  try {
    // Counter first: a crash after it only skips a number, never reuses one.
    await ctx.state.setMirrorSequence(catalog.sequence);
    failpoint('sync:after-counter');
    await ctx.catalogs.publish(published);
  } catch (err) {
    if (!isDiskFullError(err)) throw err;
    await restoreSignature(ctx, log);
    // The data dir: the write that failed may be the catalog files or state.sqlite.
    throw diskFullError(
      dirname(ctx.catalogs.dir),
      `catalog sequence ${catalog.sequence}`,
      err,
      'nothing was published, the previous catalog stays served',
    );
  }
  ctx.onPublished(published);
  log.info(
    {
      sequence: catalog.sequence,
      upstreamSequence: catalog.upstreamSequence,
      patches: catalog.patches.length,
      etag: published.etag,
      expiresAt: published.expiresAt,
      key: ctx.signer.keys.fingerprint,
    },
    'catalog published',
  );
  return published;
}

/**
 * A publish that failed after writing the new signature leaves current.json beside a signature
 * that does not verify; put the served catalog's signature back so the pair on disk verifies
 * (the failed temp file was removed, so this small write usually fits).
 */
async function restoreSignature(ctx: Pick<SyncContext, 'catalogs' | 'current'>, log: Logger): Promise<void> {
  const current = ctx.current();
  if (current === null) return;
  try {
    await writeFileAtomic(ctx.catalogs.signaturePath, current.signature);
  } catch (err) {
    // loadCurrent re-signs a torn pair at the next start.
    log.warn(
      { path: ctx.catalogs.signaturePath, err: errorMessage(err) },
      'could not restore the catalog signature after a failed publish',
    );
  }
}

export type ResignContext = Pick<
  SyncContext,
  'config' | 'state' | 'catalogs' | 'signer' | 'current' | 'onPublished'
>;

/**
 * Freeze protection with no news upstream: when the served catalog is due (or has no
 * expiresAt), publish the same content under a new sequence and expiry. Null when not due.
 */
export async function resignIfDue(
  ctx: ResignContext,
  log: Logger,
  now: Date = new Date(),
): Promise<PublishedCatalog | null> {
  const current = ctx.current();
  if (current === null || !isResignDue(current.catalog.expiresAt, now, ctx.config)) return null;
  const sequence = await nextMirrorSequence(ctx);
  const catalog = republishCatalog(current.catalog, {
    sequence,
    publishedAt: now.toISOString(),
    expiresAt: expiryFor(now, ctx.config),
  });
  log.info(
    { previous: current.sequence, sequence, expiresAt: current.expiresAt },
    're-signing the catalog before it expires',
  );
  return publishSigned(ctx, catalog, log);
}
