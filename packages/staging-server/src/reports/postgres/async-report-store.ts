// The ReportStore interface with every method answering through a promise: what a store on a
// network database can implement. Issue 16 makes the interface itself asynchronous (same
// names, arguments and meaning); until that lands this type stands for it, so that at the
// merge it is replaced by the interface and nothing else changes.
import type { ReportStore } from '../report-store-api.js';

export type AsyncReportStore = {
  [K in keyof ReportStore]: (
    ...args: Parameters<ReportStore[K]>
  ) => Promise<Awaited<ReturnType<ReportStore[K]>>>;
};

/** The reports database on PostgreSQL (postgres-report-store.ts opens one). */
export type PostgresReportStore = AsyncReportStore;
