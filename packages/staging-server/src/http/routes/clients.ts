// GET /v1/clients and /v1/clients/:hostId — the fleet as the clients last reported it.
// Without parameters /v1/clients lists every host (CONTRACT §2), streamed a page at a time;
// `limit` and `after` (a hostId: keyset paging, stable while hosts come and go) give one page, with
// `Link: rel="next"` when more may follow and `X-Total-Count`.
import type { FastifyPluginAsync } from 'fastify';
import type { ReportStore } from '../../reports/report-store.js';
import type { ClientPage, ClientSummary } from '../../reports/types.js';
import { HttpErrors } from '../errors.js';
import { jsonArrayParts, sendJsonStream } from '../json-stream.js';
import type { HttpDeps } from '../deps.js';

export const MAX_CLIENTS_LIMIT = 10_000;

const clientParamsSchema = {
  type: 'object',
  required: ['hostId'],
  properties: { hostId: { type: 'string', minLength: 1, maxLength: 253 } },
} as const;

const clientsQuerySchema = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_CLIENTS_LIMIT },
    after: { type: 'string', minLength: 1, maxLength: 253 },
  },
} as const;

/** Hosts the whole list reads and writes at a time. */
export const CLIENTS_STREAM_PAGE = 1000;

/**
 * Every client, a page at a time by hostId from `first` (the first page, already read),
 * so that the store is never asked for 100,000 hosts at once.
 */
async function* clientPages(store: ReportStore, first: ClientSummary[]): AsyncGenerator<ClientSummary[]> {
  for (let page = first; ;) {
    yield page;
    const last = page.at(-1);
    if (last === undefined || page.length < CLIENTS_STREAM_PAGE) return;
    page = await store.listClients({ after: last.hostId, limit: CLIENTS_STREAM_PAGE });
  }
}

export const clientRoutes: FastifyPluginAsync<HttpDeps> = async (app, { store }) => {
  app.get<{ Querystring: { limit?: number; after?: string } }>(
    '/v1/clients',
    { schema: { querystring: clientsQuerySchema } },
    async (request, reply) => {
      const { limit, after } = request.query;
      if (limit === undefined && after === undefined) {
        // The first page is read before the answer starts, so that an error is still an error status.
        const first = await store.listClients({ limit: CLIENTS_STREAM_PAGE });
        return sendJsonStream(reply, jsonArrayParts(clientPages(store, first)));
      }
      const page: ClientPage = {};
      if (limit !== undefined) page.limit = limit;
      if (after !== undefined) page.after = after;
      const [clients, counts] = await Promise.all([store.listClients(page), store.countClients('')]);
      reply.header('x-total-count', String(counts.total));
      const last = clients.at(-1);
      if (limit !== undefined && last !== undefined && clients.length === limit) {
        const next = new URLSearchParams({ limit: String(limit), after: last.hostId });
        reply.header('link', `</v1/clients?${next.toString()}>; rel="next"`);
      }
      return clients;
    },
  );

  app.get<{ Params: { hostId: string } }>(
    '/v1/clients/:hostId',
    { schema: { params: clientParamsSchema } },
    async (request) => {
      const client = await store.getClient(request.params.hostId);
      if (client === null) throw HttpErrors.UNKNOWN_CLIENT(request.params.hostId);
      return client;
    },
  );
};
