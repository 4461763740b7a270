// Liveness and readiness for load balancers and orchestrators.
import type { FastifyPluginAsync } from 'fastify';
import { errorBody } from '../error-handler.js';
import type { HttpDeps } from '../deps.js';

export const healthRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror }) => {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    const published = mirror.current();
    if (published === null) {
      return reply.code(503).send(errorBody(503, 'not ready: no catalog has been published yet'));
    }
    return { status: 'ready', catalogSequence: published.sequence };
  });
};
