// The client reports database (reports/), open for the server's life.
import { ReportStore } from '../reports/report-store.js';
import { partPlugin } from './lifecycle-plugin.js';

/** Decorates `reportStore`. */
export const reportStorePlugin = partPlugin({
  name: 'patchbay-report-store',
  decorator: 'reportStore',
  part: 'report store',
  dependencies: ['patchbay-data-dir'],
  open: ({ config, logger }) =>
    ReportStore.open(
      config.dataDir,
      { maxClockSkewSeconds: config.reports.maxClockSkewSeconds },
      { url: config.database.url, poolSize: config.database.poolSize, logger },
    ),
  close: (store) => store.close(),
});
