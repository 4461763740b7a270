// The end of an import, the same for a feed bundle (import-run.ts) and a TUF repository
// (tuf-import.ts): /v1/status's last update, the imports.json record and the `import --json`
// result, all from the same figures so the three never disagree.
import type { Logger } from '@patchbay/core';
import type { PublishedCatalog, SyncReport } from '../mirror.js';
import type { SyncStateStore } from '../store/sync-state.js';
import type { ImportContext, ImportResult, TufImportSummary } from './import-context.js';
import type { StagedFiles } from './import-files.js';
import type { ImportRecords } from './import-records.js';

/** What an import stored and published, as its own module worked it out. */
export interface ImportFacts {
  /** the import's report; finishedAt, filesFetched and bytesFetched are filled in here */
  report: SyncReport;
  staged: StagedFiles;
  /** the exporting mirror's key fingerprint (null: a plain feed directory, a TUF repository) */
  exporter: string | null;
  vendor: string;
  sequence: number;
  baseSequence: number | null;
  newFeed: boolean;
  /** the catalog served after the import */
  current: PublishedCatalog | null;
  signatureVerified: boolean;
  tuf?: TufImportSummary;
}

/** Record a finished import (status, imports.json), log it and return what `import` prints. */
export async function recordImport(
  ctx: Pick<ImportContext, 'source' | 'paths'>,
  stores: { state: SyncStateStore; records: ImportRecords },
  facts: ImportFacts,
  log: Logger,
): Promise<ImportResult> {
  const { report, staged } = facts;
  const source = ctx.paths.join(', ');
  const bytesStored = staged.blobs.reduce((sum, b) => sum + b.size, 0);
  report.finishedAt = new Date().toISOString();
  report.filesFetched = staged.blobs.length;
  report.bytesFetched = bytesStored;
  // what makes /v1/status and the page say "import" rather than "sync", for either kind of bundle
  report.imported = { kind: ctx.source.kind, source };
  // /v1/status shows the import as the mirror's last update (an air-gapped server's only kind).
  await stores.state.setLastSync(report);
  await stores.records.add({
    exporter: facts.exporter,
    vendor: facts.vendor,
    sequence: facts.sequence,
    baseSequence: facts.baseSequence,
    importedAt: report.finishedAt,
    kind: ctx.source.kind,
    source,
    files: staged.blobs.length,
    bytes: bytesStored,
  });
  const result: ImportResult = {
    outcome: 'ok',
    kind: ctx.source.kind,
    source,
    exporter: facts.exporter,
    sequence: facts.sequence,
    baseSequence: facts.baseSequence,
    newFeed: facts.newFeed,
    filesStored: staged.blobs.length,
    bytesStored,
    filesAlreadyPresent: staged.alreadyPresent + staged.duplicates,
    published: report.published,
    mirrorSequence: facts.current?.sequence ?? 0,
    patches: facts.current?.catalog.patches.length ?? 0,
    signatureVerified: facts.signatureVerified,
    ...(facts.tuf ? { tuf: facts.tuf } : {}),
  };
  log.info(result, 'import finished');
  return result;
}
