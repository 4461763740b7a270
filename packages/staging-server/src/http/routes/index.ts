// Every route group of CONTRACT §2 as an encapsulated plugin. The trust routes of §5
// (/v1/catalog.sig, /v1/keys, trust.ts) are registered by server.ts, which owns the mirror keys.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
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

// One registration a group, in a fixed order (plugin registration order is observable in fastify.printRoutes()).
const routeGroups: readonly FastifyPluginAsync<HttpDeps>[] = [
  healthRoutes,
  catalogRoutes,
  tufRoutes,
  blobRoutes,
  reportIngestRoutes,
  clientRoutes,
  reportQueryRoutes,
  statusRoutes,
  syncRoutes,
  gcRoutes,
  rollupRoutes,
  metricsRoutes,
  statusPageRoutes,
];

export async function registerRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  for (const routes of routeGroups) await app.register(routes, deps);
}
