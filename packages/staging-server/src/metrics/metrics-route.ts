// GET /metrics — Prometheus text format (docs/metrics.md). Access class 'read' (auth/access.ts):
// open when auth.publicStatus, else the admin token, as /v1/status, which tells as much.
import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../http/deps.js';
import { ClientStateCounts } from './fleet-states.js';
import { refreshScrapeGauges } from './scrape-gauges.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from './server-metrics.js';

export const metricsRoutes: FastifyPluginAsync<HttpDeps> = async (app, deps) => {
  const { metrics } = deps;
  if (metrics === undefined) return;
  const clientStates = new ClientStateCounts(deps.store, deps.config.reports.staleAfterHours);
  // Scraped every few seconds: only problems reach the log.
  const schema = { summary: 'Prometheus metrics (text format)', tags: ['status'] };
  app.get('/metrics', { logLevel: 'warn', schema }, async (_request, reply) => {
    await refreshScrapeGauges(metrics, deps.mirror, clientStates);
    // replicas: which one leads (docs/scale.md); absent, this server alone
    metrics.clusterLeader.set((deps.cluster?.isLeader() ?? true) ? 1 : 0);
    const text = await renderMetrics(metrics);
    return reply.type(METRICS_CONTENT_TYPE).header('cache-control', 'no-store').send(text);
  });
};
