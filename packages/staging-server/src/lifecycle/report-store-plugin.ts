// The client reports database (reports/), open for the server's life.
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import { ReportStore } from '../reports/report-store.js';
import { closeWithApp, type LifecycleOptions } from './lifecycle-plugin.js';

async function reportStore(app: FastifyInstance, { config, logger }: LifecycleOptions): Promise<void> {
  const store = ReportStore.open(config.dataDir, {
    maxClockSkewSeconds: config.reports.maxClockSkewSeconds,
  });
  app.decorate('reportStore', store);
  closeWithApp(app, logger, 'report store', () => store.close());
}

/** Decorates `reportStore`. */
export const reportStorePlugin = fastifyPlugin(reportStore, {
  name: 'patchbay-report-store',
  dependencies: ['patchbay-data-dir'],
});
