// One report in an ingest transaction the caller holds: the host's snapshot, its
// instance and its events (snapshot.ts, events.ts); and the revision bump every ingest
// transaction ends with, so every replica's revision() moves when any of them ingests.
import type { ClientReport } from '@patchbay/core';
import type { ReportStoreOptions } from '../report-store-api.js';
import type { IngestResult, ReportOrigin } from '../types.js';
import { prepared, type Sql } from './reports-database.js';
import { addEvents } from './events.js';
import { noteInstance, writeSnapshot } from './snapshot.js';

/** One report inside a transaction the caller holds. */
export type IngestOne = (
  sql: Sql,
  report: ClientReport,
  receivedAt: string,
  origin: ReportOrigin | null,
) => Promise<IngestResult>;

// Last in every ingest transaction, so the row's lock is held for the commit alone.
const BUMP_REVISION = prepared('bump-revision', 'UPDATE reports.revision SET value = value + 1');

/** Bump the revision in the caller's transaction (its last statement). */
export async function bumpRevision(sql: Sql): Promise<void> {
  await sql.rows(BUMP_REVISION);
}

export function ingestOneWith(options: ReportStoreOptions): IngestOne {
  const skewSeconds = options.maxClockSkewSeconds ?? 300;
  return async (sql, report, receivedAt, origin) => {
    const { snapshotReplaced, knownHost } = await writeSnapshot(sql, report, receivedAt, origin, skewSeconds);
    const newInstance = await noteInstance(sql, report, receivedAt, knownHost);
    const { newEvents, conflicts } = await addEvents(sql, report, receivedAt);
    const result: IngestResult = {
      accepted: newEvents.length,
      stored: newEvents,
      snapshotReplaced,
      conflicts,
    };
    if (newInstance !== undefined) result.newInstance = newInstance;
    return result;
  };
}
