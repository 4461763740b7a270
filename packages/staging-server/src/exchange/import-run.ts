// `import`, start to end, under the data-dir lock: open the bundle, verify it as a sync
// verifies a feed (signature with upstream.publicKey, schema, rollback, every file's size
// and digest), check an incremental's base, store the files, and publish a new catalog
// through the sync's own publish path. Any refusal leaves the mirror as it was.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assertFreeSpace,
  ContentStore,
  ensurePrivateDir,
  ErrorCodes,
  parseFeed,
  PatchbayError,
  readFileIfExists,
  sha256Hex,
  verifyDetached,
  type Feed,
  type Logger,
  type ServerConfig,
} from '@patchbay/core';
import type { PublishedCatalog } from '../mirror.js';
import { CatalogStore } from '../store/catalog-store.js';
import { lockDataDirForWriting } from '../cluster/writer-lock.js';
import { SyncStateStore } from '../store/sync-state.js';
import { expiryFor, isResignDue } from '../trust/catalog-expiry.js';
import { parseUpstreamKey, verifyFeedSignature } from '../trust/feed-signature.js';
import { loadMirrorSigner } from '../trust/mirror-key.js';
import { FeedArchive } from '../upstream/feed-archive.js';
import { buildCatalog, sameCatalogContent } from '../sync/build-catalog.js';
import { chainOf, extendChain } from '../tiers/mirror-chain.js';
import { checkFeedSequence } from '../sync/feed-acceptance.js';
import { filterFeed } from '../sync/mirror-filter.js';
import { newSyncReport, nextMirrorSequence, publishSigned } from '../sync/sync-run.js';
import { assertBlobsPresent } from '../sync/verify-published-blobs.js';
import {
  FEED_FILE,
  FEED_SIGNATURE_FILE,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  parseManifest,
  type ExportManifest,
} from './bundle-format.js';
import { assertInsideBundle, bytesToCopy, commitStaged, stageFiles, wantedFiles } from './import-files.js';
import { findBase, ImportRecords, type ImportRecord } from './import-records.js';
import { loadCurrent, type ImportContext, type ImportResult } from './import-context.js';
import { recordImport } from './import-outcome.js';
import { openImportSource, type ImportSource } from './import-source.js';
import { importTufSource, isTufBundle } from './tuf-import.js';
import { isTufUpstream } from '../tuf/served-tuf.js';

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

const DEFAULT_MARGIN = 64 * 1024 * 1024;

interface Bundle {
  feedBytes: Buffer;
  feed: Feed;
  manifest: ExportManifest | null;
  signatureVerified: boolean;
}

/** feed.json (and export.json when present), verified with upstream.publicKey when it is set. */
async function readBundle(source: ImportSource, config: ServerConfig): Promise<Bundle> {
  for (const name of [FEED_FILE, FEED_SIGNATURE_FILE, MANIFEST_FILE, MANIFEST_SIGNATURE_FILE]) {
    await assertInsideBundle(source.root, name);
  }
  const feedPath = join(source.root, FEED_FILE);
  const { size } = await stat(feedPath);
  if (size > config.upstream.maxFeedBytes) {
    throw new PatchbayError(
      ErrorCodes.IMPORT_REFUSED,
      `${feedPath} is ${size} bytes, more than upstream.maxFeedBytes (${config.upstream.maxFeedBytes})`,
      { path: feedPath },
    );
  }
  const feedBytes = await readFile(feedPath);
  const manifestBytes = await readFileIfExists(join(source.root, MANIFEST_FILE));
  const key = config.upstream.publicKey ? parseUpstreamKey(config.upstream.publicKey) : null;
  // Verified before a byte of either document is trusted, exactly as a sync does.
  if (key) {
    verifyFeedSignature(
      feedBytes,
      await readFileIfExists(join(source.root, FEED_SIGNATURE_FILE)),
      key,
      pathUrl(feedPath),
    );
    if (manifestBytes) {
      const signature = await readFileIfExists(join(source.root, MANIFEST_SIGNATURE_FILE));
      if (!signature || !verifyDetached(manifestBytes, signature.toString('utf8'), key)) {
        throw new PatchbayError(
          ErrorCodes.SIGNATURE,
          `${join(source.root, MANIFEST_SIGNATURE_FILE)} is ${signature ? 'not a valid signature of export.json' : 'missing'} ` +
            `with upstream.publicKey [${ErrorCodes.SIGNATURE}]`,
          { path: join(source.root, MANIFEST_FILE), reason: signature ? 'invalid' : 'missing' },
        );
      }
    }
  }
  const feed = parseFeed(feedBytes, feedPath);
  let manifest: ExportManifest | null = null;
  if (manifestBytes) {
    manifest = parseManifest(manifestBytes, join(source.root, MANIFEST_FILE));
    if (manifest.feed.sha256 !== sha256Hex(feedBytes) || manifest.sequence !== feed.sequence) {
      throw new PatchbayError(
        ErrorCodes.IMPORT_REFUSED,
        `${join(source.root, MANIFEST_FILE)} describes another feed.json (sequence ${manifest.sequence}, ` +
          `SHA-256 ${manifest.feed.sha256}) than the one beside it (sequence ${feed.sequence}); the bundle is mixed up`,
        { path: source.root },
      );
    }
  }
  return { feedBytes, feed, manifest, signatureVerified: key !== null };
}

function pathUrl(path: string): string {
  return pathToFileURL(path).href;
}

/** Refuse an incremental export whose base this mirror never imported, naming the base. */
function assertBaseImported(manifest: ExportManifest, records: readonly ImportRecord[]): void {
  if (manifest.baseSequence === null) return;
  if (findBase(records, manifest.exporter.fingerprint, manifest.baseSequence)) return;
  const fromThem = records.filter((r) => r.exporter === manifest.exporter.fingerprint).map((r) => r.sequence);
  throw new PatchbayError(
    ErrorCodes.IMPORT_REFUSED,
    `incremental export ${manifest.sequence} holds only what is new since sequence ${manifest.baseSequence} of mirror ` +
      `${manifest.exporter.fingerprint}, and base sequence ${manifest.baseSequence} was never imported here ` +
      `(imported from that mirror: ${fromThem.length > 0 ? fromThem.join(', ') : 'nothing'}); ` +
      `import the export of sequence ${manifest.baseSequence} (or a full export) first`,
    {
      sequence: manifest.sequence,
      baseSequence: manifest.baseSequence,
      exporter: manifest.exporter.fingerprint,
    },
  );
}

export async function runImport(
  config: ServerConfig,
  logger: Logger,
  paths: readonly string[],
): Promise<ImportResult> {
  const log = logger.child({ component: 'import' });
  const lock = await lockDataDirForWriting(config, log);
  try {
    const signer = await loadMirrorSigner(config, ({ keyFile, fingerprint }) =>
      log.warn({ keyFile, fingerprint }, 'no mirror signing key found; made a new one'),
    );
    const store = new ContentStore(join(config.dataDir, 'store'));
    await store.cleanTemp();
    await ensurePrivateDir(store.tmpDir);
    const margin = config.storage?.freeSpaceMarginBytes ?? DEFAULT_MARGIN;
    const source = await openImportSource(paths, {
      stagingParent: store.tmpDir,
      beforeUnpack: async (bytes) => {
        await assertFreeSpace(
          store.tmpDir,
          bytes,
          margin,
          'unpacking the import',
          'storage.freeSpaceMarginBytes',
        );
      },
    });
    try {
      return await importSource(config, log, { signer, store, source, paths, margin });
    } finally {
      await source.cleanup();
    }
  } finally {
    await lock.release();
  }
}

async function importSource(config: ServerConfig, log: Logger, ctx: ImportContext): Promise<ImportResult> {
  // trust v2: a TUF-mode server imports the bundle's TUF repository, verified from upstream.trustedRoot
  if (isTufUpstream(config)) return importTufSource(config, log, ctx);
  const { signer, store, source } = ctx;
  const started = new Date();
  if (!(await isFile(join(source.root, FEED_FILE))) && (await isTufBundle(source.root))) {
    throw new PatchbayError(
      ErrorCodes.IMPORT_REFUSED,
      `${source.root} is a TUF repository without ${FEED_FILE}: a server imports one only in TUF mode ` +
        "(upstream.trustedRoot set to the publisher's root); nothing was imported",
      { path: source.root },
    );
  }
  const bundle = await readBundle(source, config);
  const { feed, feedBytes, manifest } = bundle;
  log.info(
    { root: source.root, kind: source.kind, sequence: feed.sequence, base: manifest?.baseSequence ?? null },
    'bundle read',
  );
  const records = new ImportRecords(config.dataDir);
  const state = await SyncStateStore.open(config, log);
  try {
    const archive = new FeedArchive(config.dataDir);
    // Import and sync share one lineage: the same rollback rule, against the same record.
    const verdict = checkFeedSequence(
      feed,
      feedBytes,
      await state.lastAcceptedSequence(),
      await archive.read(),
    );
    if (manifest) assertBaseImported(manifest, await records.list());

    const mirrored = filterFeed(feed, config.mirror.products);
    const files = wantedFiles(mirrored);
    const copyBytes = source.unpacked ? 0 : await bytesToCopy(files, source.root, store);
    await assertFreeSpace(store.tmpDir, copyBytes, ctx.margin, 'the import', 'storage.freeSpaceMarginBytes');
    const staged = await stageFiles(files, {
      root: source.root,
      store,
      unpacked: source.unpacked,
      missingHint:
        manifest?.baseSequence != null
          ? `the export is incremental since sequence ${manifest.baseSequence}; import that export first`
          : 'the bundle is incomplete',
    });
    // Every check passed: from here on the mirror changes.
    await commitStaged(staged, store);
    const signatureFile = await readFileIfExists(join(source.root, FEED_SIGNATURE_FILE));
    if (signatureFile && bundle.signatureVerified) await archive.writeSignature(signatureFile);
    if (verdict === 'new') await archive.write(feedBytes);
    await state.recordAcceptedFeed(feed.sequence, {});

    const catalogs = new CatalogStore(config.dataDir);
    let current = await loadCurrent(catalogs, signer, log);
    const now = new Date();
    const ctxPublish = {
      state,
      catalogs,
      signer,
      current: () => current,
      onPublished: (published: PublishedCatalog) => {
        current = published;
      },
    };
    const sequence = await nextMirrorSequence(ctxPublish);
    const candidate = buildCatalog(mirrored, new Set(), {
      sequence,
      publishedAt: now.toISOString(),
      expiresAt: expiryFor(now, config),
      // the bundle's chain (when the exporter kept one) plus this mirror, as a sync records it
      mirrorChain: extendChain(chainOf(feed), signer.keys.fingerprint),
    });
    const unchanged =
      current !== null &&
      sameCatalogContent(current.catalog, candidate) &&
      !isResignDue(current.catalog.expiresAt, now, config);
    if (!unchanged) {
      await assertBlobsPresent(candidate, store);
      await publishSigned(ctxPublish, candidate, log);
    }
    const report = newSyncReport(started);
    report.outcome = 'ok';
    report.upstreamSequence = feed.sequence;
    report.notModified = verdict === 'same';
    report.published = !unchanged;
    return await recordImport(
      ctx,
      { state, records },
      {
        report,
        staged,
        exporter: manifest?.exporter.fingerprint ?? null,
        vendor: feed.vendor,
        sequence: feed.sequence,
        baseSequence: manifest?.baseSequence ?? null,
        newFeed: verdict === 'new',
        current,
        signatureVerified: bundle.signatureVerified,
      },
      log,
    );
  } finally {
    await state.close();
  }
}
