// GET/HEAD /v1/blobs/sha256/:hex — verified, content-addressed patch files (the answer itself:
// ../blob-response.ts, shared with the TUF target route).
import type { FastifyPluginAsync } from 'fastify';
import { sendVerifiedFile } from '../blob-response.js';
import { HttpErrors } from '../errors.js';
import type { HttpDeps } from '../deps.js';

const DIGEST = /^[0-9a-f]{64}$/;

export const blobRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror }) => {
  // A wildcard rather than `:hex`, so that every path under the prefix — including
  // "../../etc/passwd" in several segments — reaches the digest check and gets 400.
  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: '/v1/blobs/sha256/*',
    // for /v1/openapi.json only: the digest is checked by hand, before anything touches the disk
    schema: {
      summary: 'A verified blob by its SHA-256 (64 lowercase hex); Range, conditional',
      tags: ['mirror'],
    },
    handler: async (request, reply) => {
      const hex = request.params['*'];
      // The digest check comes before anything touches the disk.
      if (!DIGEST.test(hex)) throw HttpErrors.MALFORMED_DIGEST();
      const file = await mirror.blobPath(hex);
      if (file === null) throw HttpErrors.BLOB_NOT_FOUND(hex);

      return sendVerifiedFile(request, reply, file, hex, () => HttpErrors.BLOB_NOT_FOUND(hex));
    },
  });
};
