// The admin reports, each as JSON or CSV (?format=csv), each with the filters host,
// patch, severity, release, since, until (report-filters.ts):
//   GET /v1/reports/compliance  Patches Installed — current (per patch × host)
//   GET /v1/reports/downloaded  Patches Downloaded (which hosts hold which patches in cache)
//   GET /v1/reports/installs    Patches Installed — history (installs and uninstalls)
//   GET /v1/reports/history     every event (CONTRACT §2)
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { EVENT_TYPES, type EventType } from '@patchbay/core';
import { buildCompliance } from '../../reports/compliance.js';
import type { HistoryQuery, StoredEvent } from '../../reports/types.js';
import { downloadedReport, installHistoryRows, selectPatches } from '../../reports/views.js';
import { toCsv } from '../csv.js';
import { HttpErrors } from '../errors.js';
import type { HttpDeps } from '../deps.js';
import {
  inTimeRange,
  parseTimeRange,
  reportFilterProperties,
  sendCsv,
  type ReportFilterQuerystring,
} from './report-filters.js';

export const MAX_HISTORY_LIMIT = 10_000;

const filterSchema = { querystring: { type: 'object', properties: reportFilterProperties } } as const;

const pagingProperties = {
  before: { type: 'integer', minimum: 1 },
  limit: { type: 'integer', minimum: 1, maximum: MAX_HISTORY_LIMIT },
} as const;

const historySchema = {
  querystring: {
    type: 'object',
    properties: {
      ...reportFilterProperties,
      ...pagingProperties,
      type: { type: 'string', enum: [...EVENT_TYPES] },
    },
  },
} as const;

const installsSchema = {
  querystring: {
    type: 'object',
    properties: {
      ...reportFilterProperties,
      ...pagingProperties,
      type: { type: 'string', enum: ['install', 'uninstall'] },
    },
  },
} as const;

interface HistoryQuerystring extends ReportFilterQuerystring {
  type?: EventType;
  before?: number;
  limit?: number;
}

const COMPLIANCE_COLUMNS = [
  'patchId',
  'severity',
  'product',
  'release',
  'installed',
  'missing',
  'failed',
  'superseded',
  'title',
  // extensions, after the original columns so that existing consumers keep working
  'pendingReboot',
  'rebootRequired',
  'publishedAt',
] as const;

const DOWNLOADED_COLUMNS = [
  'patchId',
  'title',
  'severity',
  'release',
  'hostId',
  'hostname',
  'state',
  'cached',
  'since',
] as const;

const INSTALL_COLUMNS = [
  'at',
  'hostId',
  'hostname',
  'type',
  'patchId',
  'title',
  'severity',
  'release',
  'outcome',
  'message',
  'id',
] as const;

const HISTORY_COLUMNS = [
  'at',
  'hostId',
  'seq',
  'type',
  'patchId',
  'outcome',
  'message',
  'receivedAt',
  'id',
] as const;

/** CSV of objects, in the given column order. */
function csvOf<K extends string>(columns: readonly K[], rows: readonly Record<K, unknown>[]): string {
  return toCsv(
    columns,
    rows.map((row) =>
      columns.map((c) => {
        const value = row[c];
        return typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as string);
      }),
    ),
  );
}

export const reportQueryRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror, store, config }) => {
  let factsSequence: number | null = null;
  /** The published catalog, its patch facts recorded in the store for the filters. */
  function currentCatalog() {
    const published = mirror.current();
    if (published !== null && published.sequence !== factsSequence) {
      store.recordPatchFacts(published.catalog.patches);
      factsSequence = published.sequence;
    }
    return published;
  }

  /** The history query for the filters, with paging; shared by history and installs. */
  function historyQuery(q: HistoryQuerystring, installsOnly: boolean): HistoryQuery {
    currentCatalog();
    const query: HistoryQuery = {
      limit: q.limit ?? Math.min(config.reports.historyLimit, MAX_HISTORY_LIMIT),
      ...parseTimeRange(q),
    };
    if (installsOnly) query.installsOnly = true;
    if (q.host !== undefined) query.host = q.host;
    if (q.patch !== undefined) query.patch = q.patch;
    if (q.type !== undefined) query.type = q.type;
    if (q.severity !== undefined) query.severity = q.severity;
    if (q.release !== undefined) query.release = q.release;
    if (q.before !== undefined) {
      const cursor = store.eventCursor(q.before);
      if (cursor === null) throw HttpErrors.BAD_QUERY('before', `names no stored event (id ${q.before})`);
      query.before = cursor;
    }
    return query;
  }

  /** A full page may have a next one: say where it starts (RFC 8288 Link). */
  function linkNext(
    reply: FastifyReply,
    path: string,
    q: object,
    events: StoredEvent[],
    limit: number,
  ): void {
    const last = events.at(-1);
    if (last === undefined || events.length < limit) return;
    const next = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)]));
    next.set('before', String(last.id));
    reply.header('link', `<${path}?${next.toString()}>; rel="next"`);
  }

  app.get<{ Querystring: ReportFilterQuerystring }>(
    '/v1/reports/compliance',
    { schema: filterSchema },
    async (request, reply) => {
      const q = request.query;
      const range = parseTimeRange(q);
      const published = currentCatalog();
      if (published === null) throw HttpErrors.NO_CATALOG();
      // since/until select patches by publishedAt: "compliance with what was published then".
      const patches = selectPatches(published.catalog.patches, q, (at) => inTimeRange(at, range));
      let hosts = store.hostProfiles();
      if (q.host !== undefined) hosts = hosts.filter((h) => h.hostId === q.host);
      const rows = buildCompliance(patches, hosts, store.allStates());
      if (q.format !== 'csv') return rows;
      return sendCsv(reply, `compliance-catalog-${published.sequence}.csv`, csvOf(COMPLIANCE_COLUMNS, rows));
    },
  );

  app.get<{ Querystring: ReportFilterQuerystring }>(
    '/v1/reports/downloaded',
    { schema: filterSchema },
    async (request, reply) => {
      const q = request.query;
      const range = parseTimeRange(q);
      currentCatalog();
      // since/until select by the time the host's patch entered its state.
      const rows = downloadedReport(store, q, (since) => inTimeRange(since, range));
      if (q.format !== 'csv') return rows;
      return sendCsv(reply, 'downloaded.csv', csvOf(DOWNLOADED_COLUMNS, rows));
    },
  );

  app.get<{ Querystring: HistoryQuerystring }>(
    '/v1/reports/installs',
    { schema: installsSchema },
    async (request, reply) => {
      const q = request.query;
      const query = historyQuery(q, true);
      const events = store.history(query);
      linkNext(reply, '/v1/reports/installs', q, events, query.limit);
      const rows = installHistoryRows(store, events);
      if (q.format !== 'csv') return rows;
      return sendCsv(reply, 'installs.csv', csvOf(INSTALL_COLUMNS, rows));
    },
  );

  app.get<{ Querystring: HistoryQuerystring }>(
    '/v1/reports/history',
    { schema: historySchema },
    async (request, reply) => {
      const q = request.query;
      const query = historyQuery(q, false);
      const events = store.history(query);
      linkNext(reply, '/v1/reports/history', q, events, query.limit);
      if (q.format !== 'csv') return events;
      return sendCsv(reply, 'history.csv', csvOf(HISTORY_COLUMNS, events));
    },
  );
};
