// `patchbay-server export DIR` (issue 7): the published mirror as a feed directory (or its
// tar in media-sized parts) that another staging server imports or takes as a file: upstream.
// Reads the data directory without its lock: it runs beside `serve`, and blobs never change.
import { dirname, join, resolve } from 'node:path';
import {
  FileProgress,
  progressEnabled,
  styleFor,
  assertFreeSpace,
  ContentStore,
  errorMessage,
  ErrorCodes,
  isPatchbayError,
  PatchbayError,
  type Catalog,
  type Logger,
  type ServerConfig,
} from '@patchbay/core';
import { CatalogStore } from '../store/catalog-store.js';
import { describeKey, mirrorKeyFile, readMirrorKey } from '../trust/mirror-key.js';
import {
  planExport,
  selectFromCatalog,
  tarBytes,
  withTuf,
  type ExportKey,
  type TufExportPlan,
} from './export-plan.js';
import { planTufExport } from './tuf-export.js';
import { isTufUpstream } from '../tuf/served-tuf.js';
import { assertTargetUsable, writeExport, type ExportProgress } from './export-writer.js';
import { parseSize } from './size-option.js';
import type { PartEntry } from './bundle-format.js';

const PROGRAM = 'patchbay-server';
/** room left on the target medium beyond the export's own bytes */
const TARGET_MARGIN_BYTES = 1024 * 1024;

/** export's flags as given (--since and --chunk-size are checked here, naming the flag). */
export interface ExportFlags {
  dryRun: boolean;
  products: string[];
  releases: string[];
  since: string | undefined;
  chunkSize: string | undefined;
}

export interface ExportSummary {
  outcome: 'ok';
  dryRun: boolean;
  dir: string;
  sequence: number;
  upstreamSequence: number;
  baseSequence: number | null;
  files: number;
  /** files left out because the base export carried them */
  filesSkipped: number;
  /** bytes written (dry run: that would be written) under DIR */
  bytes: number;
  chunkSize: number | null;
  /** written parts; a dry run gives their number only */
  parts: PartEntry[] | number | null;
  fingerprint: string;
  publicKey: string;
  /** trust v2: the TUF repository in the bundle (metadata/, targets/); null for a feed-mode server */
  tuf: TufExportSummary | null;
}

/** The plan's TUF versions, roles and withheld count as they are; its files as counts. */
type TufExportSummary = Pick<
  TufExportPlan,
  'rootVersion' | 'targetsVersion' | 'snapshotVersion' | 'timestampVersion' | 'roles' | 'unavailable'
> & {
  targetFiles: number;
  /** left out: the base export carried them */
  targetFilesSkipped: number;
};

function usage(message: string, context: Record<string, unknown> = {}): PatchbayError {
  return new PatchbayError(ErrorCodes.USAGE, message, context);
}

function parseSince(value: string | undefined): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw usage(`--since must be a mirror sequence (a positive integer), got "${value}"`, {
      flag: '--since',
    });
  }
  return Number(value);
}

async function loadExportKey(config: ServerConfig): Promise<ExportKey> {
  const keyFile = mirrorKeyFile(config);
  const privateKey = await readMirrorKey(keyFile);
  if (!privateKey) {
    throw new PatchbayError(
      ErrorCodes.SIGNATURE,
      `no mirror signing key at ${keyFile}: an export is signed with it (run sync or keygen first)`,
      { keyFile },
    );
  }
  return { privateKey, ...describeKey(privateKey) };
}

/** The published catalog and, for --since, the base catalog from catalog/history. */
async function loadCatalogs(
  config: ServerConfig,
  since: number | null,
): Promise<{ catalog: Catalog; base: Catalog | null }> {
  const catalogs = new CatalogStore(config.dataDir);
  const catalog = (await catalogs.readCurrent())?.catalog;
  if (!catalog) {
    throw new PatchbayError(
      ErrorCodes.NO_CATALOG,
      `nothing is published in ${config.dataDir} yet (no ${catalogs.currentPath}); run sync or import first`,
      { path: catalogs.currentPath },
    );
  }
  if (since === null) return { catalog, base: null };
  if (since >= catalog.sequence) {
    throw usage(
      `--since ${since}: the published catalog is sequence ${catalog.sequence}; an incremental export needs an older base`,
      { flag: '--since' },
    );
  }
  const basePath = catalogs.historyPath(since);
  const base = (await catalogs.readHistory(since))?.catalog;
  if (!base) {
    throw usage(
      `--since ${since}: the catalog of sequence ${since} is gone (${basePath} was removed, e.g. by gc); ` +
        'make a full export instead (without --since)',
      { flag: '--since', path: basePath },
    );
  }
  return { catalog, base };
}

export interface ExportOptions extends ExportFlags {
  dir: string;
  json: boolean;
}

/** Plan and (unless dry run) write an export; throws PatchbayError (USAGE for bad flags). */
export async function runExport(
  config: ServerConfig,
  logger: Logger,
  opts: ExportOptions,
  onProgress?: (progress: ExportProgress) => void,
): Promise<ExportSummary> {
  const chunkSize = opts.chunkSize === undefined ? null : parseSize(opts.chunkSize);
  const since = parseSince(opts.since);
  const dir = resolve(opts.dir);
  await assertTargetUsable(dir);
  const { catalog, base } = await loadCatalogs(config, since);
  const key = await loadExportKey(config);
  const selection = { products: opts.products, releases: opts.releases };
  let plan = planExport({ catalog, base, selection, key });
  // trust v2: the served TUF repository travels too, so the bundle is a TUF repository itself
  if (isTufUpstream(config)) {
    const baseDigests = new Set<string>();
    if (base) {
      for (const patch of selectFromCatalog(base, selection, false).patches) {
        for (const file of patch.files) baseDigests.add(file.sha256);
      }
    }
    plan = withTuf(plan, await planTufExport(config.dataDir, selection, baseDigests));
  }
  const bytes = chunkSize === null ? plan.bytes : tarBytes(plan);
  const summary = (written: number, parts: ExportSummary['parts']): ExportSummary => ({
    outcome: 'ok',
    dryRun: opts.dryRun,
    dir,
    sequence: plan.sequence,
    upstreamSequence: catalog.upstreamSequence,
    baseSequence: plan.baseSequence,
    files: plan.files.length,
    filesSkipped: plan.skipped,
    bytes: written,
    chunkSize,
    parts,
    fingerprint: key.fingerprint,
    publicKey: key.publicKey,
    tuf: plan.tuf
      ? {
          rootVersion: plan.tuf.rootVersion,
          targetsVersion: plan.tuf.targetsVersion,
          snapshotVersion: plan.tuf.snapshotVersion,
          timestampVersion: plan.tuf.timestampVersion,
          roles: plan.tuf.roles,
          targetFiles: plan.tuf.targets.length,
          targetFilesSkipped: plan.tuf.skipped,
          unavailable: plan.tuf.unavailable,
        }
      : null,
  });
  if (opts.dryRun)
    return summary(bytes, chunkSize === null ? null : Math.max(1, Math.ceil(bytes / chunkSize)));

  await assertFreeSpace(dirname(dir), bytes, TARGET_MARGIN_BYTES, `the export to ${dir}`);
  const log = logger.child({ component: 'export', dir });
  log.info(
    { sequence: plan.sequence, base: plan.baseSequence, files: plan.files.length, bytes },
    'export started',
  );
  const store = new ContentStore(join(config.dataDir, 'store'));
  const written = await writeExport({
    plan,
    target: dir,
    store,
    chunkSize,
    ...(onProgress ? { onProgress } : {}),
  });
  log.info(
    { sequence: plan.sequence, bytes: written.bytes, parts: written.parts?.length ?? null },
    'export written',
  );
  return summary(written.bytes, written.parts);
}

export function formatExport(s: ExportSummary): string {
  const since =
    s.baseSequence === null
      ? ''
      : ` (incremental since ${s.baseSequence}; ${s.filesSkipped} file(s) the base carried left out)`;
  const lines = [
    s.dryRun
      ? `dry run: nothing was written; the export would write to ${s.dir}`
      : `export written to ${s.dir}`,
    `  mirror sequence: ${s.sequence}${since}`,
    `  files:           ${s.files}`,
    `  bytes:           ${s.bytes}${s.dryRun && s.chunkSize !== null ? ' (about: tar headers included)' : ''}`,
  ];
  if (typeof s.parts === 'number')
    lines.push(`  parts:           ${s.parts} of at most ${s.chunkSize} bytes`);
  else if (s.parts) {
    lines.push(
      `  parts:           ${s.parts.length} of at most ${s.chunkSize} bytes (one per medium; parts.json lists them)`,
    );
    for (const part of s.parts) lines.push(`    ${part.name}  ${part.size} bytes`);
  }
  if (s.tuf) {
    const t = s.tuf;
    lines.push(
      `  TUF repository:  metadata/ (root ${t.rootVersion}, targets ${t.targetsVersion}, snapshot ${t.snapshotVersion}, ` +
        `timestamp ${t.timestampVersion}) and targets/: ${t.targetFiles} file(s)` +
        (t.targetFilesSkipped > 0 ? `, ${t.targetFilesSkipped} the base carried left out` : '') +
        (t.unavailable > 0 ? `, ${t.unavailable} withheld here` : ''),
      "  a TUF-mode server imports it verified from its upstream.trustedRoot (the publisher's root);",
      '  a feed-mode server uses feed.json, signed by this key:',
    );
  }
  lines.push(
    `  signed by key:   ${s.fingerprint}`,
    '  on the importing server set upstream.publicKey to:',
    `    ${s.publicKey}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The shared progress line (core cli-output), on a terminal only and not with --quiet (CONTRACT §3). */
function terminalProgress(quiet: boolean): FileProgress | undefined {
  if (!progressEnabled(process.stderr, { quiet })) return undefined;
  return new FileProgress(process.stderr, styleFor(process.stderr));
}

export async function runExportCommand(
  config: ServerConfig,
  logger: Logger,
  opts: ExportFlags & { dir: string; json: boolean; quiet: boolean },
): Promise<number> {
  const progress = opts.json || opts.dryRun ? undefined : terminalProgress(opts.quiet);
  const onProgress = progress
    ? ({ doneBytes, totalBytes }: ExportProgress) =>
        progress.update('export', 'export', doneBytes, totalBytes)
    : undefined;
  try {
    const summary = await runExport(config, logger, opts, onProgress);
    progress?.close();
    process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : formatExport(summary));
    return 0;
  } catch (err) {
    progress?.close();
    const bad = isPatchbayError(err, ErrorCodes.USAGE) || isPatchbayError(err, ErrorCodes.CONFIG);
    if (!bad) logger.error({ err, code: isPatchbayError(err) ? err.code : undefined }, 'export failed');
    if (opts.json) {
      const code = isPatchbayError(err) ? err.code : undefined;
      process.stdout.write(`${JSON.stringify({ outcome: 'failed', code, error: errorMessage(err) })}\n`);
    }
    process.stderr.write(`${PROGRAM}: export${bad ? '' : ' failed'}: ${errorMessage(err)}\n`);
    return bad ? 2 : 1;
  }
}
