// One sync from a TUF upstream (upstream.trustedRoot set), start to end:
// verify metadata -> check the online key -> plan target files -> download -> withhold what
// failed -> catalog (admin views) -> publish the TUF repository -> publish the catalog.
// The same stages as sync-run.ts for a feed, on verified TUF metadata instead of feed.json.
import { stat } from 'node:fs/promises';
import {
  ErrorCodes,
  PatchbayError,
  type Catalog,
  type ContentStore,
  type Logger,
  redactCredentials,
} from '@patchbay/core';
import {
  catalogFromRoles,
  consistentTargetPath,
  isSafeTargetPath,
  type UnavailableTarget,
} from '@patchbay/core/tuf';
import type { Root, Targets } from '@tufjs/models';
import type { SyncReport } from '../mirror.js';
import type { BlobJob } from '../sync/blob-downloads.js';
import { blobUrl, sameCatalogContent } from '../sync/build-catalog.js';
import { nextMirrorSequence, publishSigned, type SyncContext } from '../sync/sync-run.js';
import { downloadMissingBlobs, syncRetryOptions, throwIfAborted } from '../sync/sync-stages.js';
import { assertBlobsPresent } from '../sync/verify-published-blobs.js';
import { expiryFor, isResignDue } from '../trust/catalog-expiry.js';
import { checkFileUrl, originPolicy, type OriginPolicy } from '../upstream/origin-policy.js';
import { describeChain } from '../tiers/mirror-chain.js';
import { onlinePublicKeyFile, type OnlineKey } from './online-key.js';
import type { Publication, PublishOutcome } from './served-repository.js';
import type { ServedTuf } from './served-tuf.js';
import { upstreamTufFetcher } from './upstream-fetcher.js';
import type { RoleFile } from './role-file.js';
import { readUpstreamRepository, releaseSelected, upstreamMetadataDir } from './upstream-repository.js';

/** Runs one sync from the TUF upstream, filling `report`. Throws when the upstream fails verification. */
export async function runTufSync(
  ctx: SyncContext,
  report: SyncReport,
  signal: AbortSignal,
  tuf: ServedTuf,
): Promise<void> {
  const { config } = ctx;
  const baseUrl = config.upstream.url;
  const log = ctx.logger.child({ upstream: redactCredentials(baseUrl), trust: 'tuf' });
  const started = Date.now();
  // Metadata and target files only from the upstream's origin (or upstream.allowedOrigins),
  // every request and redirect hop checked before it is made (docs/security.md).
  const policy = originPolicy(baseUrl, config.upstream.allowedOrigins);
  const retry = syncRetryOptions(ctx, policy, signal, log);

  log.info('sync started');
  // 1. Verify: root chain, timestamp, snapshot, targets, the selected delegated roles.
  const upstream = await readUpstreamRepository({
    baseUrl,
    metadataDir: upstreamMetadataDir(config.dataDir),
    trustedRootFile: config.upstream.trustedRoot!,
    products: config.mirror.products,
    fetcher: upstreamTufFetcher(retry),
    knownRoot: (version) => tuf.repository.rootBytes(version),
    logger: log,
  });
  report.upstreamSequence = upstream.targets.version;
  const root = upstream.roots.at(-1)!;
  log.info(
    {
      rootVersion: root.version,
      targetsVersion: upstream.targets.version,
      roles: [...upstream.roles.keys()],
      skipped: upstream.skipped,
    },
    'upstream TUF metadata verified',
  );
  throwIfAborted(signal, 'after verifying the upstream metadata');

  // 2. Not fed its own output (tiers: A's upstream B, B's upstream A); the root must let this
  //    server sign snapshot and timestamp.
  assertNoTufLoop(upstream.chain, tuf.onlineKey.keyId, `the upstream TUF repository ${baseUrl}`);
  assertOnlineKeyListed(root.signed, tuf.onlineKey, root.version);
  // tuf-js refuses a rollback against what it verified before; an import (air gap) may have
  // published newer roles since: never serve older ones than those.
  const rollback = await tuf.repository.rollbackProblems(root.version, [
    upstream.targets,
    ...upstream.roles.values(),
  ]);
  if (rollback.length > 0) {
    throw new PatchbayError(
      ErrorCodes.TUF_VERIFY,
      `rollback: the upstream TUF repository ${baseUrl} is older than what this server publishes (an import brought newer metadata?); ` +
        `nothing was published: ${rollback.join('; ')}`,
      { url: baseUrl, problems: rollback },
    );
  }

  // 3. Target files of the mirrored roles into the blob store, by signed length and SHA-256.
  const plan = planTargetBlobs(upstream.roles, baseUrl, policy);
  const { downloads } = await downloadMissingBlobs(ctx, plan.jobs, retry, signal, report, log);

  // 4. What failed is withheld (snapshot x-patchbay-unavailable), never published as available.
  const unavailable = await withheldTargets(plan, downloads.failures, ctx.store);
  if (unavailable.length > 0) log.warn({ unavailable }, 'target files withheld');

  throwIfAborted(signal, 'before publishing');

  // 5. and 6. The catalog for the admin views, then the TUF repository and the catalog published.
  const outcome = await publishVerifiedTuf(
    ctx,
    tuf,
    {
      roots: upstream.roots,
      targets: upstream.targets,
      roles: upstream.roles,
      unavailable,
      upstreamChain: upstream.chain,
    },
    report,
    log,
  );
  log.info(
    {
      outcome: report.outcome,
      snapshotVersion: outcome.snapshotVersion,
      timestampVersion: outcome.timestampVersion,
      published: report.published,
      filesFetched: report.filesFetched,
      bytesFetched: report.bytesFetched,
      unavailable: unavailable.length,
      heldBack: report.heldBack.length,
      durationMs: Date.now() - started,
    },
    'sync finished',
  );
}

/** The TUF-mode catalog (admin views, /v1/catalog): the verified roles' patches, narrowed to mirror.products. */
export function tufCatalog(
  config: SyncContext['config'],
  publication: Publication,
): { catalog: Catalog; heldBack: SyncReport['heldBack'] } {
  const { catalog, heldBack } = catalogFromRoles({
    targets: publication.targets.signed,
    roles: new Map([...publication.roles].map(([name, file]) => [name, file.signed])),
    unavailable: [...publication.unavailable],
    fileUrl: ({ sha256 }) => blobUrl(sha256),
  });
  // the products it declares, narrowed to what mirror.products selects (as a feed's are)
  const products = config.mirror.products;
  catalog.products = catalog.products
    .map((product) => ({
      ...product,
      releases: product.releases.filter((r) => releaseSelected(products, product.id, r)),
    }))
    .filter((product) => product.releases.length > 0);
  return { catalog, heldBack };
}

/**
 * Publish verified metadata and the target files already in the blob store, as a sync does:
 * roles byte for byte, this server's snapshot and timestamp, then the catalog. Fills the
 * report's heldBack, published and outcome.
 */
export async function publishVerifiedTuf(
  ctx: Pick<SyncContext, 'config' | 'store' | 'state' | 'catalogs' | 'signer' | 'current' | 'onPublished'>,
  tuf: Pick<ServedTuf, 'repository' | 'clock'> & { refresher?: Pick<ServedTuf['refresher'], 'check'> },
  publication: Publication,
  report: SyncReport,
  log: Logger,
): Promise<PublishOutcome> {
  const { catalog, heldBack } = tufCatalog(ctx.config, publication);
  report.heldBack = heldBack;
  if (heldBack.length > 0) log.warn({ heldBack }, 'patches held back');
  const outcome = await tuf.repository.publish(publication, tuf.clock.now());
  await tuf.refresher?.check();
  const catalogPublished = await publishCatalogIfChanged(ctx, catalog, log);
  report.published = outcome.published || catalogPublished;
  report.outcome = heldBack.length > 0 || publication.unavailable.length > 0 ? 'partial' : 'ok';
  return outcome;
}

/**
 * PB_ERR_MIRROR_LOOP when the upstream's snapshot already passed through this server (its
 * online key id is in the chain): it is being fed its own output back. The message names the chain.
 */
export function assertNoTufLoop(chain: readonly string[], ownKeyId: string, source: string): void {
  if (!chain.includes(ownKeyId)) return;
  throw new PatchbayError(
    ErrorCodes.MIRROR_LOOP,
    `${source}: mirror loop: its snapshot already passed through this server (online key ${ownKeyId}); ` +
      `chain ${describeChain(chain)}; point upstream.url at a server that is not fed by this one; nothing was published [${ErrorCodes.MIRROR_LOOP}]`,
    { source, chain: [...chain], mirror: ownKeyId },
  );
}

/** How an admin gets the online key into the upstream root (the publisher's side, off the DMZ). */
export function onlineKeyHint(key: Pick<OnlineKey, 'keyFile' | 'keyId'>): string {
  const pub = onlinePublicKeyFile(key.keyFile);
  return (
    `add key id ${key.keyId} (public key ${pub}, which patchbay-server keygen prints) to the root's snapshot and ` +
    `timestamp roles off the DMZ: patchbay-publish init --online-key ${pub} for a new repository; for an existing ` +
    `one patchbay-publish rotate --role snapshot --add-key ${pub} and rotate --role timestamp --add-key ${pub} ` +
    `(the new root signed by the root keys with patchbay-publish sign --role root); then sync again`
  );
}

/** PB_ERR_TUF_REPOSITORY unless the root lists the online key for snapshot and timestamp with threshold 1. */
export function assertOnlineKeyListed(root: Root, key: OnlineKey, rootVersion: number): void {
  const problems: string[] = [];
  for (const role of ['snapshot', 'timestamp'] as const) {
    const definition = root.roles[role];
    if (!definition?.keyIDs.includes(key.keyId)) problems.push(`does not list it for ${role}`);
    else if (definition.threshold > 1) {
      problems.push(
        `needs ${definition.threshold} signatures for ${role}, and this server signs with one key`,
      );
    }
  }
  if (problems.length === 0) return;
  throw new PatchbayError(
    ErrorCodes.TUF_REPOSITORY,
    `the upstream root (version ${rootVersion}) ${problems.join(' and ')} for this server's online key ${key.keyId}: ${onlineKeyHint(key)}`,
    { keyId: key.keyId, rootVersion },
  );
}

/** One target of a mirrored role, where it comes from and what it must be. */
interface PlannedTarget {
  role: string;
  path: string;
  sha256: string;
  length: number;
}

export interface TargetBlobPlan {
  jobs: BlobJob[];
  targets: PlannedTarget[];
  /** targets that cannot be mirrored whatever is downloaded (no sha256, unsafe path, refused URL, length conflict) */
  invalid: UnavailableTarget[];
}

/** The URL of a target file in the upstream repository: `<url>targets/<dir>/<sha256>.<basename>`, each segment encoded. */
export function upstreamTargetUrl(baseUrl: string, path: string, sha256: string): string {
  const encoded = consistentTargetPath(path, sha256).split('/').map(encodeURIComponent).join('/');
  return new URL(`targets/${encoded}`, baseUrl).href;
}

/** One download job per distinct SHA-256 over every target of the mirrored roles. */
export function planTargetBlobs(
  roles: ReadonlyMap<string, RoleFile<Targets>>,
  baseUrl: string,
  policy: OriginPolicy,
): TargetBlobPlan {
  const jobs = new Map<string, BlobJob>();
  const targets: PlannedTarget[] = [];
  const invalid: UnavailableTarget[] = [];
  for (const [role, file] of [...roles].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const target of Object.values(file.signed.targets)) {
      const sha256 = target.hashes.sha256;
      const withhold = (reason: string) => invalid.push({ path: target.path, sha256: sha256 ?? '', reason });
      if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
        withhold('the target has no lowercase hex sha256 hash (this layout names target files by it)');
        continue;
      }
      if (!isSafeTargetPath(target.path)) {
        withhold(`target path "${target.path}" is not a safe relative path`);
        continue;
      }
      const url = upstreamTargetUrl(baseUrl, target.path, sha256);
      const refusal = checkFileUrl(url, policy);
      if (refusal !== null) {
        withhold(refusal.message);
        continue;
      }
      const existing = jobs.get(sha256);
      if (existing && existing.size !== target.length) {
        withhold(
          `length ${target.length} conflicts with ${existing.size} signed for the same sha256 by ${existing.users[0]!.patchId}`,
        );
        continue;
      }
      targets.push({ role, path: target.path, sha256, length: target.length });
      const user = { patchId: target.path, fileName: target.path.slice(target.path.lastIndexOf('/') + 1) };
      if (existing) existing.users.push(user);
      else jobs.set(sha256, { sha256, size: target.length, url, users: [user] });
    }
  }
  return { jobs: [...jobs.values()], targets, invalid };
}

/**
 * The targets to withhold: invalid ones, those whose download failed, and those whose stored
 * blob (already there from an earlier sync) is not the signed length. Sorted by path.
 */
async function withheldTargets(
  plan: TargetBlobPlan,
  failures: ReadonlyMap<string, string>,
  store: ContentStore,
): Promise<UnavailableTarget[]> {
  const unavailable = [...plan.invalid];
  const sizes = new Map<string, number | undefined>();
  for (const target of plan.targets) {
    const failure = failures.get(target.sha256);
    if (failure !== undefined) {
      unavailable.push({ path: target.path, sha256: target.sha256, reason: failure });
      continue;
    }
    if (!sizes.has(target.sha256)) {
      sizes.set(
        target.sha256,
        await stat(store.blobPath(target.sha256)).then(
          (s) => s.size,
          () => undefined,
        ),
      );
    }
    const size = sizes.get(target.sha256);
    if (size === undefined)
      unavailable.push({
        path: target.path,
        sha256: target.sha256,
        reason: 'not in the blob store after the downloads',
      });
    else if (size !== target.length) {
      unavailable.push({
        path: target.path,
        sha256: target.sha256,
        reason: `the stored blob has ${size} bytes, the target says ${target.length}`,
      });
    }
  }
  return unavailable.sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : a.sha256 < b.sha256 ? -1 : 1,
  );
}

/** The catalog for /v1/catalog and the admin views, published when its content changed or its signature is due. */
async function publishCatalogIfChanged(
  ctx: Pick<SyncContext, 'config' | 'store' | 'state' | 'catalogs' | 'signer' | 'current' | 'onPublished'>,
  built: Catalog,
  log: Logger,
): Promise<boolean> {
  const current = ctx.current();
  const now = new Date();
  const catalog: Catalog = {
    ...built,
    sequence: await nextMirrorSequence(ctx),
    expiresAt: expiryFor(now, ctx.config),
  };
  if (
    current &&
    sameCatalogContent(current.catalog, catalog) &&
    !isResignDue(current.catalog.expiresAt, now, ctx.config)
  ) {
    log.info({ sequence: current.sequence }, 'catalog unchanged; nothing to publish');
    return false;
  }
  await assertBlobsPresent(catalog, ctx.store);
  await publishSigned(ctx, catalog, log);
  return true;
}
