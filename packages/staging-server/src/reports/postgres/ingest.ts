// Storing client reports in PostgreSQL: one report in a transaction of its own, reports
// arriving together in a shared one (ingest-queue.ts), bulk loads in one; each transaction
// bumps the revision that revision() reads from the database.
import type { ClientReport } from '@patchbay/core';
import type { ReportOrigin } from '../types.js';
import type { ReportStore } from '../report-store-api.js';
import type { ReportsDatabase } from './reports-database.js';
import { finishIngest, ingestOneOf, type IngestAll } from './ingest-one.js';
import { IngestQueue } from './ingest-queue.js';

type IngestMethods = Pick<ReportStore, 'revision' | 'ingest' | 'ingestSoon' | 'ingestMany'>;

export interface PostgresIngest extends IngestMethods {
  /** Store the reports still waiting for a shared commit (at close: stored, not dropped). */
  drain(): Promise<void>;
}

export function postgresIngest(db: ReportsDatabase, ingestAll: IngestAll): PostgresIngest {
  const ingestOne = ingestOneOf(ingestAll);
  const single = (report: ClientReport, receivedAt: string, origin: ReportOrigin | null) =>
    db.transaction(`storing the report of host "${report.hostId}"`, async (sql) => {
      const result = await ingestOne(sql, report, receivedAt, origin);
      await finishIngest(sql);
      return result;
    });
  const queue = new IngestQueue(db, ingestAll, single);
  return {
    revision: async () =>
      (await db.rows<{ value: number }>('SELECT value FROM reports.revision'))[0]?.value ?? 0,
    ingest: (report, receivedAt = new Date().toISOString(), origin = null) =>
      single(report, receivedAt, origin),
    ingestSoon: (report, origin = null) => queue.add(report, origin),
    ingestMany: (reports, receivedAt = new Date().toISOString()) =>
      db.transaction(`storing ${reports.length} reports`, async (sql) => {
        // one call: its parts are cut (and rows locked) in hostId order across the whole load
        const items = reports.map((report) => ({ report, receivedAt, origin: null }));
        let accepted = 0;
        for (const result of await ingestAll(sql, items)) accepted += result.accepted;
        await finishIngest(sql);
        return accepted;
      }),
    drain: () => queue.drain(),
  };
}
