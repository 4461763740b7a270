// GET /v1/reports/compliance and /v1/reports/history, as JSON or CSV.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { EVENT_TYPES, type EventType } from '@patchbay/core';
import { buildCompliance } from '../../reports/compliance.js';
import type { HistoryQuery } from '../../reports/types.js';
import { toCsv } from '../csv.js';
import { HttpErrors } from '../errors.js';
import type { HttpDeps } from '../deps.js';

export const MAX_HISTORY_LIMIT = 10_000;

const formatProperty = { type: 'string', enum: ['json', 'csv'], default: 'json' } as const;

const complianceSchema = {
  querystring: { type: 'object', properties: { format: formatProperty } },
} as const;

const historySchema = {
  querystring: {
    type: 'object',
    properties: {
      host: { type: 'string', minLength: 1 },
      patch: { type: 'string', minLength: 1 },
      type: { type: 'string', enum: [...EVENT_TYPES] },
      since: { type: 'string' },
      before: { type: 'integer', minimum: 1 },
      limit: { type: 'integer', minimum: 1, maximum: MAX_HISTORY_LIMIT },
      format: formatProperty,
    },
  },
} as const;

interface HistoryQuerystring {
  host?: string;
  patch?: string;
  type?: EventType;
  since?: string;
  before?: number;
  limit?: number;
  format: 'json' | 'csv';
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function sendCsv(reply: FastifyReply, fileName: string, body: string): FastifyReply {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${fileName}"`)
    .send(body);
}

export const reportQueryRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror, store, config }) => {
  app.get<{ Querystring: { format: 'json' | 'csv' } }>(
    '/v1/reports/compliance',
    { schema: complianceSchema },
    async (request, reply) => {
      const published = mirror.current();
      if (published === null) throw HttpErrors.NO_CATALOG();
      const rows = buildCompliance(published.catalog.patches, store.hostProfiles(), (id) =>
        store.statesOfPatch(id),
      );
      if (request.query.format !== 'csv') return rows;
      const csv = toCsv(
        [
          'patchId',
          'severity',
          'product',
          'release',
          'installed',
          'missing',
          'failed',
          'superseded',
          'title',
        ],
        rows.map((r) => [
          r.patchId,
          r.severity,
          r.product,
          r.release,
          r.installed,
          r.missing,
          r.failed,
          r.superseded,
          r.title,
        ]),
      );
      return sendCsv(reply, `compliance-catalog-${published.sequence}.csv`, csv);
    },
  );

  app.get<{ Querystring: HistoryQuerystring }>(
    '/v1/reports/history',
    { schema: historySchema },
    async (request, reply) => {
      const q = request.query;
      const query: HistoryQuery = {
        limit: q.limit ?? Math.min(config.reports.historyLimit, MAX_HISTORY_LIMIT),
      };
      if (q.host !== undefined) query.host = q.host;
      if (q.patch !== undefined) query.patch = q.patch;
      if (q.type !== undefined) query.type = q.type;
      if (q.since !== undefined) {
        const ms = RFC3339.test(q.since) ? Date.parse(q.since) : Number.NaN;
        if (Number.isNaN(ms))
          throw HttpErrors.BAD_QUERY('since', 'must be an RFC 3339 date-time, e.g. 2026-11-24T10:00:00Z');
        query.since = new Date(ms).toISOString();
      }
      if (q.before !== undefined) {
        const cursor = store.eventCursor(q.before);
        if (cursor === null) throw HttpErrors.BAD_QUERY('before', `names no stored event (id ${q.before})`);
        query.before = cursor;
      }
      const events = store.history(query);
      // A full page may have a next one: say where it starts (RFC 8288 Link).
      const last = events.at(-1);
      if (last !== undefined && events.length === query.limit) {
        const next = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)]));
        next.set('before', String(last.id));
        reply.header('link', `</v1/reports/history?${next.toString()}>; rel="next"`);
      }
      if (q.format !== 'csv') return events;
      const csv = toCsv(
        ['at', 'hostId', 'seq', 'type', 'patchId', 'outcome', 'message', 'receivedAt', 'id'],
        events.map((e) => [
          e.at,
          e.hostId,
          e.seq,
          e.type,
          e.patchId,
          e.outcome,
          e.message,
          e.receivedAt,
          e.id,
        ]),
      );
      return sendCsv(reply, 'history.csv', csv);
    },
  );
};
