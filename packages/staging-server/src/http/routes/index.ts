// Every route group of CONTRACT §2 as an encapsulated plugin. The trust routes of §5
// (/v1/catalog.sig, /v1/keys, trust.ts) are registered by server.ts, which owns the mirror keys.
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.js';
import { blobRoutes } from './blobs.js';
import { catalogRoutes } from './catalog.js';
import { clientRoutes } from './clients.js';
import { healthRoutes } from './health.js';
import { reportIngestRoutes } from './report-ingest.js';
import { reportQueryRoutes } from './reports-query.js';
import { rollupRoutes } from './rollup.js';
import { statusRoutes } from './status.js';
import { syncRoutes } from './sync.js';
import { tufRoutes } from './tuf.js';
import { gcRoutes } from '../../gc/gc-route.js';
import { metricsRoutes } from '../../metrics/metrics-route.js';
import { statusPageRoutes } from './status-page.js';

export async function registerRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  await app.register(healthRoutes, deps);
  await app.register(catalogRoutes, deps);
  await app.register(tufRoutes, deps);
  await app.register(blobRoutes, deps);
  await app.register(reportIngestRoutes, deps);
  await app.register(clientRoutes, deps);
  await app.register(reportQueryRoutes, deps);
  await app.register(statusRoutes, deps);
  await app.register(syncRoutes, deps);
  await app.register(gcRoutes, deps);
  await app.register(rollupRoutes, deps);
  await app.register(metricsRoutes, deps);
  await app.register(statusPageRoutes, deps);
}
