// The served TUF repository (trust v2, docs/http-api.md "TUF repository"), public like
// /v1/catalog: hosts verify everything they read here against their own trust root.
//   GET /v1/tuf/metadata/:name   timestamp.json, root.json, <N>.<role>.json (files that exist)
//   GET /v1/tuf/targets/*        <dir>/<sha256>.<basename> -> the blob with that digest, when
//                                the served repository names it as available
import type { FastifyContextConfig, FastifyPluginAsync } from 'fastify';
import { metadataFileName } from '@patchbay/core/tuf';
import { sendVerifiedFile } from '../blob-response.js';
import { evaluatePreconditions } from '@patchbay/core';
import type { HttpDeps } from '../deps.js';
import { HttpErrors } from '../errors.js';

const VERSIONED_NAME = /^([1-9][0-9]{0,15})\.(.+)\.json$/;
const CONSISTENT_NAME = /^([0-9a-f]{64})\.(.+)$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Public like /v1/catalog (auth/access.ts): hosts verify everything they read here. */
const OPEN = { access: 'open' } as FastifyContextConfig;

/**
 * The file under metadata/ a request name stands for, or undefined when the name is none a
 * TUF client asks for. The router has decoded the name already; a versioned role name is
 * encoded again exactly as the file was written (`<N>.<encodeURIComponent(role)>.json`).
 */
export function metadataFileFor(name: string): string | undefined {
  if (name === 'timestamp.json' || name === 'root.json') return name;
  const match = VERSIONED_NAME.exec(name);
  if (!match) return undefined;
  const version = Number(match[1]);
  const role = match[2]!;
  // the timestamp has one name only; a versioned alias would be cached as immutable
  if (!Number.isSafeInteger(version) || role === 'timestamp') return undefined;
  return metadataFileName(role, version);
}

export const tufRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror }) => {
  app.get<{ Params: { name: string } }>(
    '/v1/tuf/metadata/:name',
    {
      config: OPEN,
      schema: { summary: 'TUF metadata: timestamp.json, root.json, <N>.<role>.json', tags: ['tuf'] },
    },
    async (request, reply) => {
      const repository = mirror.tufRepository?.() ?? null;
      if (repository === null) throw HttpErrors.NO_TUF_REPOSITORY();
      const { name } = request.params;
      const file = metadataFileFor(name);
      if (file === undefined) throw HttpErrors.TUF_METADATA_NOT_FOUND(name);
      // in memory while the file is unchanged: a 304 or a 404 reads no file (tuf/served-metadata.ts)
      const served = await repository.metadataFile(file);
      if (served === null) throw HttpErrors.TUF_METADATA_NOT_FOUND(name);
      const { bytes, etag } = served;
      // No Last-Modified (the bytes, not the file's time, are the identity): the date conditions do not apply.
      const precondition = evaluatePreconditions(request.headers, { etag });
      if (precondition === 'failed') throw HttpErrors.PRECONDITION_FAILED(`TUF metadata ${name}`, etag);
      // timestamp.json and root.json change in place; every versioned file is written once
      reply
        .header('etag', etag)
        .header('cache-control', file === 'timestamp.json' || file === 'root.json' ? 'no-cache' : IMMUTABLE)
        .header('x-content-type-options', 'nosniff');
      if (precondition === 'not-modified') return reply.code(304).send();
      // the exact bytes the signatures cover: no re-encoding, no compression
      return reply.type('application/json').send(bytes);
    },
  );

  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: '/v1/tuf/targets/*',
    config: OPEN,
    schema: { summary: 'A TUF target: <dir>/<sha256>.<name>, the blob with that digest', tags: ['tuf'] },
    handler: async (request, reply) => {
      const repository = mirror.tufRepository?.() ?? null;
      if (repository === null) throw HttpErrors.NO_TUF_REPOSITORY();
      const path = request.params['*'];
      const base = path.slice(path.lastIndexOf('/') + 1);
      const match = CONSISTENT_NAME.exec(base);
      // Only a digest the served repository names at exactly this path: the store's other
      // blobs (another product's, a withheld file's) are not this repository's targets.
      let sha256 = match ? repository.targetDigest(path) : undefined;
      // Replicas: a target the leader has just published, before this follower has reloaded.
      if (match && sha256 === undefined && (await mirror.reloadPublication?.()))
        sha256 = repository.targetDigest(path);
      if (!match || sha256 === undefined || sha256 !== match[1]) throw HttpErrors.TUF_TARGET_NOT_FOUND(path);
      const file = await mirror.blobPath(sha256);
      if (file === null) throw HttpErrors.TUF_TARGET_NOT_FOUND(path);

      return sendVerifiedFile(request, reply, file, sha256, () => HttpErrors.TUF_TARGET_NOT_FOUND(path));
    },
  });
};
