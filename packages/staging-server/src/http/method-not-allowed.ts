// 405 with Allow (RFC 9110 §15.5.6) for a path the server has, asked with a method it does
// not answer there — fastify alone gives such a request the 404 of an unknown path. Each
// route's other methods get a route of their own that refuses in onRequest, so no body is read.
import type { FastifyContextConfig, FastifyInstance, onRequestHookHandler } from 'fastify';
import { HttpErrors } from './errors.js';

const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const;
/** Marks the refusing routes (not collected again) and makes them open: 405 needs no credential. */
const REFUSAL = { access: 'open', methodNotAllowed: true } as FastifyContextConfig;

function isRefusal(config: unknown): boolean {
  return (config as { methodNotAllowed?: unknown } | undefined)?.methodNotAllowed === true;
}

/**
 * Call before any route is registered; call the function it returns after the last one
 * (before ready): it adds the refusing routes for every path seen in between.
 */
export function collectMethodsForAllow(app: FastifyInstance): () => void {
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    if (isRefusal(route.config)) return;
    const url = route.url ?? route.path;
    const methods = byUrl.get(url) ?? new Set<string>();
    for (const method of typeof route.method === 'string' ? [route.method] : route.method)
      methods.add(method);
    byUrl.set(url, methods);
  });
  return () => {
    for (const [url, methods] of byUrl) {
      // fastify answers HEAD for every GET route (exposeHeadRoutes)
      if (methods.has('GET')) methods.add('HEAD');
      const allow = METHODS.filter((method) => methods.has(method));
      const others = METHODS.filter((method) => !methods.has(method));
      if (others.length === 0) continue;
      const refuse: onRequestHookHandler = async (request) => {
        throw HttpErrors.METHOD_NOT_ALLOWED(request.method, url, allow);
      };
      app.route({
        method: [...others],
        url,
        config: REFUSAL,
        // not an operation of the API: left out of /v1/openapi.json
        schema: { hide: true } as Record<string, unknown>,
        onRequest: refuse,
        handler: async () => undefined,
      });
    }
  };
}
