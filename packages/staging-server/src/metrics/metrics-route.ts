// GET /metrics in Prometheus text format (issue 8). Placeholder until built.
import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../http/deps.js';

export const metricsRoutes: FastifyPluginAsync<HttpDeps> = async () => {};
