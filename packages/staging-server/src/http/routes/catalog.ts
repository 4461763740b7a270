// GET /v1/catalog: the published catalog's exact bytes, precomputed at publish time
// (identity and gzip), so serving is a buffer write. No @fastify/compress: the gzip
// bytes already exist and recompressing per request would waste CPU at fleet scale.
import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import { acceptsGzip } from '../content-coding.js';
import { evaluatePreconditions } from '@patchbay/core';
import { HttpErrors } from '../errors.js';
import type { HttpDeps } from '../deps.js';

/** Extension: the catalog's Ed25519 signature (base64), the same as GET /v1/catalog.sig. */
export const CATALOG_SIGNATURE_HEADER = 'patchbay-catalog-signature';

// For /v1/openapi.json only (no validation keyword): the answer is bytes, not a serialized object.
const CATALOG_DOC = {
  summary: "The published catalog's exact bytes (signed; gzip when asked)",
  tags: ['mirror'],
} as FastifySchema;

export const catalogRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror }) => {
  app.get('/v1/catalog', { schema: CATALOG_DOC }, async (request, reply) => {
    const published = mirror.current();
    if (published === null) throw HttpErrors.NO_CATALOG();

    const lastModified = new Date(published.publishedAt);
    const precondition = evaluatePreconditions(request.headers, { etag: published.etag, lastModified });
    if (precondition === 'failed') throw HttpErrors.PRECONDITION_FAILED('the catalog', published.etag);
    // One ETag for both codings: it is the SHA-256 of the identity bytes, which the
    // catalog's signature covers too; Vary keeps shared caches from mixing the two.
    reply
      .header('etag', published.etag)
      .header('cache-control', 'no-cache')
      .header('vary', 'Accept-Encoding')
      .header('last-modified', lastModified.toUTCString())
      // The signature rides with the bytes it signs: a client that fetched /v1/catalog.sig
      // separately could get the next publication's signature between the two requests.
      .header(CATALOG_SIGNATURE_HEADER, published.signature);
    if (precondition === 'not-modified') return reply.code(304).send();
    reply.type('application/json; charset=utf-8');
    if (acceptsGzip(request.headers['accept-encoding'])) {
      return reply.header('content-encoding', 'gzip').send(published.gzip);
    }
    return reply.send(published.bytes);
  });
};
