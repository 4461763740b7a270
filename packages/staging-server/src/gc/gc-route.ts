// POST /v1/gc (admin): garbage-collect the blob store now and answer with what went.
// `{"dryRun": true}` (or ?dryRun=true) only reports. 409 while a sync or another gc runs;
// replicas: 503 on a follower (the leader collects).
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, isPatchbayError } from '@patchbay/core';
import { HttpErrors } from '../http/errors.js';
import { assertLeaderHere } from '../http/leader-only.js';
import type { HttpDeps } from '../http/deps.js';

function flag(value: unknown): boolean {
  return value === true || value === 'true' || value === '1';
}

export const gcRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror, cluster }) => {
  app.post('/v1/gc', async (request) => {
    const body = (request.body ?? {}) as { dryRun?: unknown };
    const query = (request.query ?? {}) as { dryRun?: unknown };
    const dryRun = flag(body.dryRun) || flag(query.dryRun);
    await assertLeaderHere(cluster, 'gc');
    if (mirror.isSyncing()) throw HttpErrors.SYNC_IN_PROGRESS();
    try {
      return await mirror.gc({ dryRun });
    } catch (err) {
      if (isPatchbayError(err, ErrorCodes.SYNC_IN_PROGRESS)) throw HttpErrors.SYNC_IN_PROGRESS();
      if (isPatchbayError(err, ErrorCodes.LOCKED)) throw HttpErrors.GC_IN_PROGRESS();
      throw err;
    }
  });
};
