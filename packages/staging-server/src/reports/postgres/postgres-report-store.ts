// The report store on PostgreSQL (database.url): the same interface as the SQLite store,
// every method answering through a promise, over the server's shared pool. Several server
// processes (replicas) may open it on one database at once: the schema is migrated once
// (an advisory lock), a report sent to any of them is stored once, and each one's
// revision() moves when any of them ingests.
import type pg from 'pg';
import { migratePostgres } from '../../database/postgres-migrations.js';
import type { ReportStoreOptions } from '../report-store-api.js';
import type { ReportStore } from '../report-store-api.js';
import { postgresFleetExports } from './exports.js';
import { postgresFleetCounts } from './fleet-counts.js';
import { postgresFleetQueries } from './fleet-queries.js';
import { postgresEventHistory } from './history.js';
import { postgresHostView } from './host-view.js';
import { ingestAllWith, ingestOneOf } from './ingest-one.js';
import { postgresIngest } from './ingest.js';
import { ReportsDatabase } from './reports-database.js';
import { postgresRollupRecords } from './rollup.js';
import { REPORTS_COMPONENT, REPORTS_MIGRATIONS } from './schema.js';

/** The reports database on PostgreSQL: the ReportStore interface, nothing more. */
export type PostgresReportStore = ReportStore;

/**
 * The reports tables in the database `pool` connects to, created or migrated first. The
 * pool stays the caller's: close() stores what waits for a shared commit and leaves it open.
 */
export async function openPostgresReportStore(
  pool: pg.Pool,
  options: ReportStoreOptions = {},
): Promise<ReportStore> {
  await migratePostgres(pool, REPORTS_COMPONENT, REPORTS_MIGRATIONS);
  const db = new ReportsDatabase(pool);
  const ingestAll = ingestAllWith(options);
  const ingestOne = ingestOneOf(ingestAll);
  const { drain, ...ingest } = postgresIngest(db, ingestAll);
  return {
    ...ingest,
    ...postgresRollupRecords(db, ingestOne),
    ...postgresFleetQueries(db),
    ...postgresFleetExports(db),
    ...postgresHostView(db),
    ...postgresFleetCounts(db),
    ...postgresEventHistory(db),
    close: drain,
  };
}
