// The reports database as its callers see it: what the HTTP routes, the rollup, the
// metrics and the retention schedule ask of it, grouped by job. Callers hold a
// ReportStore and never a particular database: SQLite in <dataDir>/reports.sqlite (sqlite/,
// the embedded default) or PostgreSQL when database.url is set (postgres/, shared by
// replicas; docs/scale.md), chosen here and nowhere else. Why SQLite rather than the keyv
// store the sync side uses: see docs/http-api.md "Why SQLite for reports".
//
// Every method returns a promise, so a network database can implement it; SQLite's
// answers are ready when the call returns (better-sqlite3 is synchronous).
import path from 'node:path';
import { ensurePrivateDirSync, type Logger } from '@patchbay/core';
import { acquireSharedPool } from '../database/postgres-pool.js';
import { openPostgresReportStore } from './postgres/postgres-report-store.js';
import type { ReportStore as ReportStoreApi, ReportStoreOptions } from './report-store-api.js';
import { openSqliteReportStore } from './sqlite/sqlite-report-store.js';

/** The reports database's file in the server's data directory. */
export const REPORTS_FILE = 'reports.sqlite';

export type {
  EventHistory,
  FleetCounts,
  FleetExports,
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
  /**
   * Open (creating or migrating when needed) `<dataDir>/reports.sqlite`, or, when `database.url`
   * is set, the reports tables in that PostgreSQL database on the process's shared pool.
   */
  async open(
    dataDir: string,
    options: ReportStoreOptions = {},
    database: { url: string | null; poolSize?: number; logger?: Logger } = { url: null },
  ): Promise<ReportStore> {
    if (database.url === null) {
      ensurePrivateDirSync(dataDir);
      return openSqliteReportStore(path.join(dataDir, REPORTS_FILE), options);
    }
    const shared = await acquireSharedPool(database.url, {
      ...(database.poolSize !== undefined ? { poolSize: database.poolSize } : {}),
      ...(database.logger ? { logger: database.logger } : {}),
    });
    try {
      const store = await openPostgresReportStore(shared.pool, options);
      // close() stores what waits for a shared commit, then gives the pool back.
      return { ...store, close: () => store.close().finally(() => shared.release()) };
    } catch (err) {
      await shared.release();
      throw err;
    }
  },
};
