// The reports database as its callers see it: what the HTTP routes, the rollup, the
// metrics and the retention schedule ask of it, grouped by job. Callers hold a
// ReportStore and never a particular database: today's one implementation is SQLite in
// <dataDir>/reports.sqlite (sqlite/); a second (PostgreSQL, issue 16) implements this
// interface and is chosen in ReportStore.open. Why SQLite rather than the keyv store the
// sync side uses: see docs/http-api.md "Why SQLite for reports".
//
// Every method returns a promise, so a network database can implement it; SQLite's
// answers are ready when the call returns (better-sqlite3 is synchronous).
import path from 'node:path';
import { ensurePrivateDirSync } from '@patchbay/core';
import type { ReportStore as ReportStoreApi, ReportStoreOptions } from './report-store-api.js';
import { openSqliteReportStore } from './sqlite/sqlite-report-store.js';

/** The reports database's file in the server's data directory. */
export const REPORTS_FILE = 'reports.sqlite';

export type {
  EventHistory,
  FleetCounts,
  FleetQueries,
  ReportIngest,
  ReportStoreOptions,
  RollupRecords,
} from './report-store-api.js';
export type ReportStore = ReportStoreApi;

/**
 * Opens the reports database the server uses. The same name as the interface on purpose:
 * a caller writes `ReportStore.open(dataDir)` and holds a `ReportStore`.
 */
export const ReportStore = {
  /** Open (creating when needed) `<dataDir>/reports.sqlite`. */
  async open(dataDir: string, options: ReportStoreOptions = {}): Promise<ReportStore> {
    ensurePrivateDirSync(dataDir);
    return openSqliteReportStore(path.join(dataDir, REPORTS_FILE), options);
  },
};
