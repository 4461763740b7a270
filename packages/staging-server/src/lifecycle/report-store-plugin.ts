// The client reports database (reports/), open for the server's life.
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import { ReportStore } from '../reports/report-store.js';
import type { LifecycleOptions } from './plugin-options.js';

async function reportStore(app: FastifyInstance, { config }: LifecycleOptions): Promise<void> {
  const store = ReportStore.open(config.dataDir, {
    maxClockSkewSeconds: config.reports.maxClockSkewSeconds,
  });
  app.decorate('reportStore', store);
  app.addHook('onClose', async () => store.close());
}

/** Decorates `reportStore`. */
export const reportStorePlugin = fastifyPlugin(reportStore, {
  name: 'patchbay-report-store',
  dependencies: ['patchbay-data-dir'],
});
