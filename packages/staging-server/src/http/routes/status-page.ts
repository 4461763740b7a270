// The admin status page at `/` (issue 8): static files served by @fastify/static,
// reading the same JSON endpoints the API offers. Placeholder until built.
import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../deps.js';

export const statusPageRoutes: FastifyPluginAsync<HttpDeps> = async () => {};
