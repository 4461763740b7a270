// Trust v2 import (docs/topologies.md "Air-gapped: export and import"): on a server in TUF mode
// (upstream.trustedRoot set) a bundle is a TUF repository (metadata/, targets/ in the
// consistent-snapshot layout: a TUF-mode server's export, or a publisher's repository). It is
// verified with core/tuf verifyRepository from the pinned upstream.trustedRoot (root chain,
// every role the bundle's snapshot lists: signatures, thresholds, versions, lengths, hashes,
// expiry of root, targets and delegated roles), refused as a rollback when a role is older than
// the one this server publishes, and every target file of the roles mirror.products selects is
// checked (length, SHA-256) as it is copied into the blob store, only from inside the bundle
// (the import guards of import-files.ts and the origin rules of upstream/origin-policy.ts).
// Then it is published exactly as a sync publishes (tuf-sync.ts publishVerifiedTuf): the roles
// byte for byte, this server's own snapshot and timestamp, the catalog. Any refusal leaves the
// server as it was: nothing is written before every check passed.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assertFreeSpace,
  errorMessage,
  ErrorCodes,
  PatchbayError,
  type Logger,
  type ServerConfig,
} from '@patchbay/core';
import {
  METADATA_DIR,
  directorySource,
  formatProblem,
  metadataFileName,
  parseRoleName,
  patchbayTargetsInfo,
  verifyRepository,
  type UnavailableTarget,
} from '@patchbay/core/tuf';
import type { Root, Targets } from '@tufjs/models';
import type { PublishedCatalog } from '../mirror.js';
import { CatalogStore } from '../store/catalog-store.js';
import { SyncStateStore } from '../store/sync-state.js';
import { newSyncReport } from '../sync/sync-run.js';
import { ensureOnlineKey } from '../tuf/online-key.js';
import { ServedRepository, servedRepositoryDir, snapshotChain } from '../tuf/served-repository.js';
import { systemClock } from '../tuf/timestamp-refresh.js';
import { expiryPolicy } from '../tuf/served-tuf.js';
import {
  assertNoTufLoop,
  assertOnlineKeyListed,
  planTargetBlobs,
  publishVerifiedTuf,
  tufCatalog,
} from '../tuf/tuf-sync.js';
import type { RoleFile } from '../tuf/role-file.js';
import { walkRootChainBack } from '../tuf/root-chain.js';
import { releaseSelected } from '../tuf/upstream-repository.js';
import {
  bundlePolicy,
  bytesToCopy,
  commitStaged,
  locateInBundle,
  stageFiles,
  type WantedFile,
} from './import-files.js';
import {
  loadCurrent,
  type ImportContext,
  type ImportResult,
  type TufImportSummary,
} from './import-context.js';
import { recordImport } from './import-outcome.js';
import { ImportRecords } from './import-records.js';

function refused(message: string, context: Record<string, unknown> = {}): PatchbayError {
  return new PatchbayError(ErrorCodes.IMPORT_REFUSED, message, context);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** True when `root` holds a TUF repository's metadata (`metadata/timestamp.json`). */
export async function isTufBundle(root: string): Promise<boolean> {
  return isFile(join(root, METADATA_DIR, 'timestamp.json'));
}

async function readTrustedRoot(config: ServerConfig): Promise<Buffer> {
  const file = config.upstream.trustedRoot!;
  try {
    return await readFile(file);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `upstream.trustedRoot ${file} cannot be read: ${errorMessage(err)}`,
      { key: 'upstream.trustedRoot', path: file },
      { cause: err },
    );
  }
}

/** Import a TUF repository bundle; see the file comment. Throws, changing nothing, when it is refused. */
export async function importTufSource(
  config: ServerConfig,
  log: Logger,
  ctx: ImportContext,
): Promise<ImportResult> {
  const { signer, store, source } = ctx;
  const root = source.root;
  const started = new Date();
  if (!(await isTufBundle(root))) {
    throw refused(
      `${root} is not a TUF repository (no ${METADATA_DIR}/timestamp.json), and this server mirrors one ` +
        "(upstream.trustedRoot): import the export of a TUF-mode server, or a publisher's repository; " +
        'a feed-only bundle is for a server without upstream.trustedRoot. Nothing was imported',
      { path: root },
    );
  }
  const trustedRoot = await readTrustedRoot(config);
  const { key: onlineKey } = await ensureOnlineKey(config);
  // No timestamp refresher here: nothing is written before the bundle has passed every check.
  const repository = await ServedRepository.open(
    servedRepositoryDir(config.dataDir),
    onlineKey,
    expiryPolicy(config),
    log,
  );

  // 1. Verify the whole bundle from the pinned root. Its timestamp and snapshot are replaced by
  //    this server's own, so their expiry is not held against a bundle that spent days in transit.
  const bundle = directorySource(root);
  const selected = (role: string): boolean => {
    const parsed = parseRoleName(role);
    return parsed !== undefined && releaseSelected(config.mirror.products, parsed.product, parsed.release);
  };
  const verified = await verifyRepository(bundle, {
    trustedRoot,
    checkTargetFiles: false,
    skipUnlistedRoles: true,
    ignoreExpiry: ['timestamp', 'snapshot'],
  });
  if (!verified.ok || !verified.root || !verified.targets || !verified.snapshot) {
    const lines = verified.problems.map(formatProblem);
    throw new PatchbayError(
      ErrorCodes.TUF_VERIFY,
      `${root} fails TUF verification from upstream.trustedRoot (${lines.length} problem${lines.length === 1 ? '' : 's'}); ` +
        `nothing was imported:\n  ${lines.join('\n  ')}`,
      { path: root, problems: verified.problems },
    );
  }
  const rootMeta = verified.root;
  const rootVersion = rootMeta.signed.version;
  const rootName = metadataFileName('root', rootVersion);
  const newestRoot: RoleFile<Root> = {
    role: 'root',
    version: rootVersion,
    // the trusted root itself when the bundle's chain does not go beyond it
    bytes: verified.files.get(rootName) ?? trustedRoot,
    signed: rootMeta.signed,
  };
  const fileOf = (role: string, signed: Targets): RoleFile<Targets> => ({
    role,
    version: signed.version,
    bytes: verified.files.get(metadataFileName(role, signed.version))!,
    signed,
  });
  const targets = fileOf('targets', verified.targets.signed);
  const roles = new Map<string, RoleFile<Targets>>();
  const skipped: TufImportSummary['skipped'] = [];
  for (const role of Object.keys(verified.targets.signed.delegations?.roles ?? {}).sort()) {
    const metadata = verified.roles.get(role);
    if (!selected(role)) skipped.push({ role, reason: 'not selected by mirror.products' });
    else if (!metadata) skipped.push({ role, reason: "not listed in the bundle's snapshot" });
    else roles.set(role, fileOf(role, metadata.signed));
  }
  const roots = await walkRootChainBack(
    newestRoot,
    async (version) =>
      (await repository.rootBytes(version)) ?? (await bundle.readMetadata(metadataFileName('root', version))),
    (version) =>
      log.warn(
        { version, path: root },
        'root version missing from the bundle: hosts trusting an older root cannot walk to the current one',
      ),
    'the bundle',
  );
  log.info(
    { rootVersion, targetsVersion: targets.version, roles: [...roles.keys()], skipped },
    'bundle TUF metadata verified',
  );

  // 2. Not this server's own output coming back; the root must let it sign snapshot and timestamp.
  const upstreamChain = snapshotChain(verified.snapshot.signed);
  assertNoTufLoop(upstreamChain, onlineKey.keyId, `the bundle ${root}`);
  assertOnlineKeyListed(rootMeta.signed, onlineKey, rootVersion);

  // 3. No rollback against what this server publishes (nor a served version with other bytes).
  const problems = await repository.rollbackProblems(rootVersion, [targets, ...roles.values()], {
    sameVersionOtherBytes: true,
  });
  if (problems.length > 0) {
    throw refused(
      `rollback: ${root} holds an older repository than this server publishes; nothing was imported:\n  ${problems.join('\n  ')}`,
      { path: root, problems },
    );
  }

  // The catalog the publication builds (x-patchbay, descriptors) must come out of these roles
  // before anything is stored: a targets role it cannot read refuses the bundle here.
  tufCatalog(config, { roots, targets, roles, unavailable: [] });

  // 4. Target files: from inside the bundle only, each checked (length, SHA-256) as it is copied.
  const plan = planTargetBlobs(roles, pathToFileURL(`${resolve(root)}/`).href, bundlePolicy(root));
  const exporterWithheld = new Map(verified.unavailable.map((u) => [`${u.path}\0${u.sha256}`, u.reason]));
  const unavailable: UnavailableTarget[] = [...plan.invalid];
  const wanted: WantedFile[] = [];
  for (const job of plan.jobs) {
    const users = plan.targets.filter((target) => target.sha256 === job.sha256);
    const located = await locateInBundle(root, job.url);
    const present = located.kind === 'inside' && (await isFile(located.path));
    if (!present && located.kind !== 'refused' && !(await store.has(job.sha256))) {
      // what the exporter withheld (its snapshot says so) stays withheld here; anything else is missing
      const reasons = users.map((target) => exporterWithheld.get(`${target.path}\0${target.sha256}`));
      if (reasons.every((reason) => reason !== undefined)) {
        users.forEach((target, i) =>
          unavailable.push({
            path: target.path,
            sha256: target.sha256,
            reason: `withheld by the exporting server: ${reasons[i]!}`,
          }),
        );
        continue;
      }
    }
    wanted.push({
      sha256: job.sha256,
      size: job.size,
      url: job.url,
      users: users.map((target) => `${target.role}: ${target.path}`),
    });
  }
  const copyBytes = source.unpacked ? 0 : await bytesToCopy(wanted, root, store);
  await assertFreeSpace(store.tmpDir, copyBytes, ctx.margin, 'the import', 'storage.freeSpaceMarginBytes');
  const staged = await stageFiles(wanted, {
    root,
    store,
    unpacked: source.unpacked,
    missingHint:
      'the bundle is incomplete, or an incremental export: import the export it builds on (or a full export) first',
  });

  // Every check passed: from here on the server changes.
  await commitStaged(staged, store);
  const withheld = new Set(unavailable.map((u) => `${u.path}\0${u.sha256}`));
  for (const target of plan.targets) {
    if (withheld.has(`${target.path}\0${target.sha256}`)) continue;
    const size = await stat(store.blobPath(target.sha256)).then(
      (s) => s.size,
      () => undefined,
    );
    if (size !== target.length) {
      unavailable.push({
        path: target.path,
        sha256: target.sha256,
        reason:
          size === undefined
            ? 'not in the blob store after the import'
            : `the stored blob has ${size} bytes, the target says ${target.length}`,
      });
    }
  }
  unavailable.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.sha256 < b.sha256 ? -1 : 1));
  if (unavailable.length > 0) log.warn({ unavailable }, 'target files withheld');

  // 5. Publish as a sync does: roles byte for byte, this server's snapshot and timestamp, the catalog.
  const state = await SyncStateStore.open(config, log);
  try {
    const catalogs = new CatalogStore(config.dataDir);
    let current: PublishedCatalog | null = await loadCurrent(catalogs, signer, log);
    const report = newSyncReport(started);
    const outcome = await publishVerifiedTuf(
      {
        config,
        store,
        state,
        catalogs,
        signer,
        current: () => current,
        onPublished: (published) => {
          current = published;
        },
      },
      { repository, clock: systemClock },
      { roots, targets, roles, unavailable, upstreamChain },
      report,
      log,
    );
    report.upstreamSequence = targets.version;
    return await recordImport(
      ctx,
      { state, records: new ImportRecords(config.dataDir) },
      {
        report,
        staged,
        exporter: null,
        vendor: patchbayTargetsInfo(targets.signed).vendor,
        sequence: targets.version,
        baseSequence: null,
        newFeed: outcome.published,
        current,
        signatureVerified: true,
        tuf: {
          rootVersion,
          targetsVersion: targets.version,
          roles: Object.fromEntries([...roles.values()].map((file) => [file.role, file.version])),
          skipped,
          snapshotVersion: outcome.snapshotVersion,
          timestampVersion: outcome.timestampVersion,
          unavailable: unavailable.length,
        },
      },
      log,
    );
  } finally {
    await state.close();
  }
}
