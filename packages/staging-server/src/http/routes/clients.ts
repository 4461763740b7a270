// GET /v1/clients and /v1/clients/:hostId — the fleet as the clients last reported it.
import type { FastifyPluginAsync } from 'fastify';
import { HttpErrors } from '../errors.js';
import type { HttpDeps } from '../deps.js';

const clientParamsSchema = {
  type: 'object',
  required: ['hostId'],
  properties: { hostId: { type: 'string', minLength: 1, maxLength: 253 } },
} as const;

export const clientRoutes: FastifyPluginAsync<HttpDeps> = async (app, { store }) => {
  app.get('/v1/clients', async () => store.listClients());

  app.get<{ Params: { hostId: string } }>(
    '/v1/clients/:hostId',
    { schema: { params: clientParamsSchema } },
    async (request) => {
      const client = store.getClient(request.params.hostId);
      if (client === null) throw HttpErrors.UNKNOWN_CLIENT(request.params.hostId);
      return client;
    },
  );
};
