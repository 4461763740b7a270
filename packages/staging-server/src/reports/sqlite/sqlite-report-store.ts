// The ReportStore in SQLite via better-sqlite3 (synchronous, prepared statements, one
// writer): one database file, each job of the interface a module over it. Each method
// does its work before it returns; its promise only carries the answer (or the error).
import type { ReportStore, ReportStoreOptions } from '../report-store-api.js';
import { sqliteFleetCounts } from './fleet-counts.js';
import { sqliteFleetExports, type SqliteFleetExports } from './exports.js';
import { sqliteFleetQueries } from './fleet-queries.js';
import { FilteredStatements } from './filtered-sql.js';
import { sqliteEventHistory, type SqliteEventHistory } from './history.js';
import { sqliteHostView, type SqliteHostView } from './host-view.js';
import { sqliteIngest } from './ingest.js';
import { closeReportsDatabase, openReportsDatabase } from './open-database.js';
import { sqliteRollupRecords } from './rollup.js';

/** The SQLite store, with what only SQLite has: its file and its query plans. */
export interface SqliteReportStore
  extends ReportStore, SqliteFleetExports, SqliteEventHistory, SqliteHostView {
  readonly file: string;
}

/** Open (creating or migrating when needed) the reports database in `file`. */
export function openSqliteReportStore(file: string, options: ReportStoreOptions = {}): SqliteReportStore {
  const db = openReportsDatabase(file);
  // History and Patches Downloaded build their SQL from the filters: one cache of those statements.
  const filtered = new FilteredStatements(db);
  const { ingestOne, flushPending, ...ingest } = sqliteIngest(db, options);
  return {
    file,
    ...ingest,
    ...sqliteRollupRecords(db, ingestOne),
    ...sqliteFleetQueries(db),
    ...sqliteFleetExports(db, filtered),
    ...sqliteHostView(db, filtered),
    ...sqliteFleetCounts(db),
    ...sqliteEventHistory(db, filtered),
    async close() {
      if (!db.open) return;
      // Reports waiting for their shared commit are stored, not dropped.
      flushPending();
      closeReportsDatabase(db);
    },
  };
}
