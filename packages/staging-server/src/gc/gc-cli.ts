// `patchbay-server gc [--dry-run] [--json]`: garbage-collect the data directory's blob store.
// It takes the data-dir lock as `sync` does, so it refuses (exit 1, PB_ERR_LOCKED) while
// `serve` runs on the same directory, or (replicas, database.url) while a replica leads; a
// running server collects on schedule.gc or on POST /v1/gc instead.
import { ErrorCodes, isPatchbayError, PatchbayError } from '@patchbay/core';
import type { Catalog, Logger, ServerConfig } from '@patchbay/core';
import type { GcResult } from '../mirror.js';
import { lockDataDirForWriting } from '../cluster/writer-lock.js';
import { CatalogStore } from '../store/catalog-store.js';
import { collectGarbage } from './collector.js';
import { writeLastGc } from './last-gc.js';

export async function runGcCommand(
  config: ServerConfig,
  logger: Logger,
  opts: { dryRun: boolean; json: boolean },
): Promise<number> {
  let lock;
  try {
    lock = await lockDataDirForWriting(config, logger);
  } catch (err) {
    if (!isPatchbayError(err, ErrorCodes.LOCKED)) throw err;
    process.stderr.write(
      `patchbay-server: gc: ${err.message}\n` +
        'patchbay-server: a running server collects on schedule.gc, or now with POST /v1/gc\n',
    );
    return 1;
  }
  let result: GcResult;
  try {
    const current = await loadCurrentCatalog(new CatalogStore(config.dataDir));
    result = await collectGarbage({
      dataDir: config.dataDir,
      current,
      protectionDays: config.storage.gcProtectionDays,
      dryRun: opts.dryRun,
      logger: logger.child({ component: 'gc' }),
    });
    if (!opts.dryRun) await writeLastGc(config.dataDir, result);
  } finally {
    await lock.release();
  }
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatGcResult(result));
  return 0;
}

/**
 * current.json as stored (the signature does not matter here: only which blobs it names).
 * Null when none was published; an unreadable one stops gc, which cannot then tell what is needed.
 */
async function loadCurrentCatalog(catalogs: CatalogStore): Promise<Catalog | null> {
  try {
    return (await catalogs.readCurrent())?.catalog ?? null;
  } catch (err) {
    // an I/O error (EACCES, EIO) goes up as it is; parse errors (always PatchbayError) say what gc cannot know
    if (!isPatchbayError(err)) throw err;
    throw new PatchbayError(
      ErrorCodes.FEED_INVALID,
      `gc refused: the published catalog ${catalogs.currentPath} is unreadable, so which blobs it needs is unknown (a sync repairs it)`,
      { path: catalogs.currentPath, cause: err.code },
    );
  }
}

export function formatGcResult(result: GcResult): string {
  const row = (label: string, value: string): string => `  ${`${label}:`.padEnd(20)}${value}`;
  const lines = [
    result.dryRun
      ? `gc (dry run, nothing removed): would remove ${result.removedBlobs} blob(s), ${result.reclaimedBytes} bytes`
      : `gc: removed ${result.removedBlobs} blob(s), ${result.reclaimedBytes} bytes`,
    row('kept', `${result.keptBlobs} blob(s), ${result.keptBytes} bytes`),
    row(
      'protected catalogs',
      `${result.protectedCatalogs.join(', ') || 'none'} (window ${result.protectionDays} days)`,
    ),
    row(result.dryRun ? 'history to remove' : 'history removed', result.removedHistory.join(', ') || 'none'),
    row(result.dryRun ? 'stale temp to remove' : 'stale temp removed', String(result.removedTemp.length)),
  ];
  if (result.blobsSkipped !== null) lines.push(row('no blob removed', result.blobsSkipped));
  return `${lines.join('\n')}\n`;
}
