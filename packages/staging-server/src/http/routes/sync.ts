// POST /v1/sync — start a sync now; the sync runs on after the 202.
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, errorMessage, isPatchbayError } from '@patchbay/core';
import { HttpErrors } from '../errors.js';
import { assertLeaderHere } from '../leader-only.js';
import type { HttpDeps } from '../deps.js';

export const syncRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror, cluster }) => {
  app.post('/v1/sync', async (request, reply) => {
    // replicas: only the leader syncs
    await assertLeaderHere(cluster, 'sync');
    if (mirror.isSyncing()) throw HttpErrors.SYNC_IN_PROGRESS();
    let refused = false;
    let running: Promise<unknown>;
    try {
      running = mirror.startSync();
    } catch (err) {
      if (isPatchbayError(err, ErrorCodes.SYNC_IN_PROGRESS)) throw HttpErrors.SYNC_IN_PROGRESS();
      throw err;
    }
    running.then(
      (report) => request.log.info({ report }, 'sync requested over HTTP finished'),
      (err: unknown) => {
        if (isPatchbayError(err, ErrorCodes.SYNC_IN_PROGRESS)) refused = true;
        else request.log.error({ err: errorMessage(err) }, 'sync requested over HTTP failed');
      },
    );
    // A refusal raced with another start surfaces as an immediate rejection: give it
    // one turn of the event loop before promising that this request started the sync.
    await new Promise((resolve) => setImmediate(resolve));
    if (refused) throw HttpErrors.SYNC_IN_PROGRESS();
    return reply.code(202).send({ started: true });
  });
};
