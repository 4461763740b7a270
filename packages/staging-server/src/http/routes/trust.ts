// GET /v1/catalog.sig and GET /v1/keys (CONTRACT §5). Both read the one in-memory
// PublishedCatalog that /v1/catalog serves, so bytes, signature and key always match.
import type { FastifyPluginAsync } from 'fastify';
import type { MirrorService } from '../../mirror.js';
import { ifNoneMatchMatches } from '@patchbay/core';
import { HttpErrors } from '../errors.js';

export interface TrustRouteOptions {
  mirror: MirrorService;
}

export const trustRoutes: FastifyPluginAsync<TrustRouteOptions> = async (app, { mirror }) => {
  // The signature covers the identity bytes of /v1/catalog (also when gzip was served);
  // it carries the catalog's ETag, so a client can tell the two belong together.
  app.get('/v1/catalog.sig', async (request, reply) => {
    const published = mirror.current();
    if (published === null) throw HttpErrors.NO_CATALOG();
    reply.header('etag', published.etag).header('cache-control', 'no-cache');
    if (ifNoneMatchMatches(request.headers['if-none-match'], published.etag)) {
      return reply.code(304).send();
    }
    return reply.type('text/plain; charset=utf-8').send(published.signature);
  });

  // The key that signed the catalog being served, with the rotation chain to it.
  app.get('/v1/keys', async (_request, reply) => {
    const published = mirror.current();
    if (published === null) throw HttpErrors.NO_CATALOG();
    reply.header('cache-control', 'no-cache');
    return published.keys;
  });
};
