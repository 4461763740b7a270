// The admin reports, each as JSON or CSV (?format=csv), each with the filters host,
// patch, severity, release, since, until (report-filters.ts):
//   GET /v1/reports/compliance  Patches Installed — current (per patch × host; ?hosts=false:
//                               the counts alone, from counters kept at ingest);
//                               ?view=hosts: the same matrix by host, sorted and paged
//   GET /v1/reports/downloaded  Patches Downloaded (which hosts hold which patches in cache)
//   GET /v1/reports/installs    Patches Installed — history (installs and uninstalls)
//   GET /v1/reports/history     every event (CONTRACT §2)
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { EVENT_TYPES, type EventType, type FeedPatch } from '@patchbay/core';
import type { PublishedCatalog } from '../../mirror.js';
import { buildHostMatrix, type HostComplianceRow } from '../../reports/compliance.js';
import {
  complianceByPatch,
  countsOfRows,
  readHostProfiles,
  type ComplianceRowText,
} from '../../reports/compliance-export.js';
import { buildComplianceCounts, type FleetTallies } from '../../reports/compliance-counts.js';
import { ByRevision, ComplianceCache } from '../../reports/compliance-cache.js';
import { counterHostPage, countersServe, cutHostPage } from '../../reports/host-page.js';
import type { HistoryQuery, HostProfileRow, StoredEvent } from '../../reports/types.js';
import {
  HOST_SORTS,
  defaultOrder,
  downloadedPages,
  installHistoryRows,
  matchesSearch,
  selectPatches,
  type HostSort,
  type HostViewPage,
  type SortOrder,
} from '../../reports/views.js';
import { csvStream, toCsv, type CsvCell } from '../csv.js';
import { complianceRowJson } from '../compliance-json.js';
import { jsonArrayParts, sendJsonStream } from '../json-stream.js';
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

/** A page of the host view when the request names no limit (JSON; CSV gives every host). */
export const DEFAULT_HOST_PAGE = 100;

/** The hosts a page of the host view holds: without a limit, the CSV holds every host and JSON one page. */
function pageLimit(q: { limit?: number; format?: string }, total: number): number {
  return q.limit ?? (q.format === 'csv' ? Math.max(total, 1) : DEFAULT_HOST_PAGE);
}

const complianceSchema = {
  querystring: {
    type: 'object',
    properties: {
      ...reportFilterProperties,
      view: { type: 'string', enum: ['patches', 'hosts'] },
      sort: { type: 'string', enum: [...HOST_SORTS] },
      order: { type: 'string', enum: ['asc', 'desc'] },
      offset: { type: 'integer', minimum: 0 },
      limit: { type: 'integer', minimum: 1, maximum: MAX_HISTORY_LIMIT },
      search: { type: 'string', minLength: 1, maxLength: 253 },
      // false: the per-patch rows without their `hosts` map, counted without reading every state
      hosts: { type: 'boolean' },
    },
  },
} as const;

interface ComplianceQuerystring extends ReportFilterQuerystring {
  hosts?: boolean;
  view?: 'patches' | 'hosts';
  sort?: HostSort;
  order?: SortOrder;
  offset?: number;
  limit?: number;
  search?: string;
}

/** Parameters of the host view only: refused with the per-patch view rather than ignored. */
const HOST_VIEW_PARAMS = ['sort', 'order', 'offset', 'limit', 'search'] as const;

/** Columns of the host view's CSV, before one column per patch (its state on the host). */
const HOST_VIEW_COLUMNS = [
  'hostId',
  'hostname',
  'platform',
  'lastSeenAt',
  'behind',
  'missing',
  'failed',
  'installed',
  'superseded',
  'relevant',
] as const;

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

/** Rows of a CSV download a stream takes at a time (and events read from the store at a time). */
export const CSV_PAGE = 1000;

/** The cells of objects, in the given column order. */
function cellsOf<K extends string>(columns: readonly K[], rows: readonly Record<K, unknown>[]): CsvCell[][] {
  return rows.map((row) =>
    columns.map((c) => {
      const value = row[c];
      return typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as CsvCell);
    }),
  );
}

/** The rows as JSON, or as a CSV download of the given columns when the query says format=csv. */
function rowsOrCsv<K extends string>(
  reply: FastifyReply,
  format: string | undefined,
  rows: readonly Record<K, unknown>[],
  csvFile: string,
  columns: readonly K[],
): readonly Record<K, unknown>[] | FastifyReply {
  return format === 'csv' ? sendCsv(reply, csvFile, toCsv(columns, cellsOf(columns, rows))) : rows;
}

function* slices<T>(items: readonly T[], size: number): Generator<readonly T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}

/** The host view as CSV: the host's fields, then its state per patch (empty: not relevant). */
function hostViewCsv(patchIds: readonly string[], hosts: readonly HostComplianceRow[]): Readable {
  const cells = function* () {
    for (const page of slices(hosts, CSV_PAGE))
      yield page.map((h) => [
        ...HOST_VIEW_COLUMNS.map((c) => h[c]),
        ...patchIds.map((id) => h.states[id] ?? ''),
      ]);
  };
  return csvStream([...HOST_VIEW_COLUMNS, ...patchIds], cells());
}

export const reportQueryRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror, store, config }) => {
  const cache = new ComplianceCache(store);
  /** The catalog whose patch facts are recorded, or being recorded (requests meanwhile wait). */
  let facts: { sequence: number; recorded: Promise<void> } | null = null;
  /** The published catalog, its patch facts recorded in the store for the filters. */
  async function currentCatalog() {
    const published = mirror.current();
    if (published === null) return null;
    if (published.sequence !== facts?.sequence) {
      const recorded: Promise<void> = store
        .recordPatchFacts(published.catalog.patches)
        .catch((err: unknown) => {
          // Not recorded: the next request tries again.
          if (facts?.recorded === recorded) facts = null;
          throw err;
        });
      facts = { sequence: published.sequence, recorded };
    }
    await facts.recorded;
    return published;
  }

  /** The history query for the filters, with paging; shared by history and installs. */
  async function historyQuery(q: HistoryQuerystring, installsOnly: boolean): Promise<HistoryQuery> {
    await currentCatalog();
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
      const cursor = await store.eventCursor(q.before);
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

  /**
   * The compliance matrix by host (`?view=hosts`): one page from counters kept at ingest when
   * they can answer it (host-page.ts), else cut from the whole matrix, built once per fleet
   * revision, catalog and filters (ComplianceCache).
   */
  async function hostView(
    reply: FastifyReply,
    q: ComplianceQuerystring,
    published: PublishedCatalog,
    patches: readonly FeedPatch[],
    selectHosts: (hosts: readonly HostProfileRow[]) => readonly HostProfileRow[],
    range: { since?: string; until?: string },
  ) {
    const sort = q.sort ?? 'behind';
    const order = q.order ?? defaultOrder(sort);
    const offset = q.offset ?? 0;
    const counterSort = countersServe(q, sort);
    const paging = { sort, order, offset, limit: pageLimit(q, 0) };
    const key = [published.sequence, q.host, q.patch, q.severity, q.release, range, q.search];
    const matrix =
      (counterSort &&
        (await counterHostPage(store, patches, await tallies.get(), { ...paging, sort: counterSort }))) ||
      cutHostPage(
        await cache.hostMatrix(JSON.stringify(key), (fleet) =>
          buildHostMatrix(patches, selectHosts(fleet.hosts), fleet.states),
        ),
        paging,
        (total) => pageLimit(q, total),
      );
    const { total, hosts: page } = matrix;
    const limit = pageLimit(q, total);
    reply.header('x-total-count', String(total));
    if (offset + limit < total) {
      const next = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)]));
      next.set('offset', String(offset + limit));
      next.set('limit', String(limit));
      reply.header('link', `</v1/reports/compliance?${next.toString()}>; rel="next"`);
    }
    if (q.format === 'csv') {
      const patchIds = matrix.patches.map((p) => p.patchId);
      return sendCsv(
        reply,
        `compliance-hosts-catalog-${published.sequence}.csv`,
        hostViewCsv(patchIds, page),
      );
    }
    const body: HostViewPage = {
      sequence: published.sequence,
      total,
      offset,
      limit,
      sort,
      order,
      releases: [...new Set(published.catalog.patches.map((p) => p.release))].sort(),
      patches: matrix.patches,
      hosts: page,
    };
    return body;
  }

  // the fleet's counts, read again only after a report: the status page asks page after page
  const tallies = new ByRevision<FleetTallies>(
    () => store.revision(),
    async () => {
      const [states, profiles, pendingReboot] = await Promise.all([
        store.patchStateCounts(),
        store.profileCounts(),
        store.pendingRebootInstalls(),
      ]);
      return { states, profiles, pendingReboot };
    },
  );
  /**
   * The per-patch rows with every selected host, a patch at a time (compliance-export.ts).
   * The hosts are read before the answer starts, so that an error reading them is an error status.
   */
  async function complianceWithHosts(
    patches: readonly FeedPatch[],
    selectHosts: (hosts: readonly HostProfileRow[]) => readonly HostProfileRow[],
  ): Promise<AsyncGenerator<ComplianceRowText[]>> {
    return complianceByPatch(store, patches, selectHosts(await readHostProfiles(store)));
  }

  app.get<{ Querystring: ComplianceQuerystring }>(
    '/v1/reports/compliance',
    { schema: complianceSchema },
    async (request, reply) => {
      const q = request.query;
      const range = parseTimeRange(q);
      if (q.view !== 'hosts')
        for (const name of HOST_VIEW_PARAMS)
          if (q[name] !== undefined) throw HttpErrors.BAD_QUERY(name, 'applies only with view=hosts');
      if (q.view === 'hosts' && q.hosts !== undefined)
        throw HttpErrors.BAD_QUERY('hosts', 'applies only to the per-patch view');
      const published = await currentCatalog();
      if (published === null) throw HttpErrors.NO_CATALOG();
      // since/until select patches by publishedAt: "compliance with what was published then".
      const patches = selectPatches(published.catalog.patches, q, (at) => inTimeRange(at, range));
      const selectHosts = (hosts: readonly HostProfileRow[]): readonly HostProfileRow[] =>
        hosts.filter(
          (h) =>
            (q.host === undefined || h.hostId === q.host) &&
            (q.view !== 'hosts' || q.search === undefined || matchesSearch(h, q.search)),
        );
      if (q.view === 'hosts') return hostView(reply, q, published, patches, selectHosts, range);
      // The counts alone (the CSV has no per-host column): from the counters, for the whole fleet.
      const countsOnly = q.hosts === false || q.format === 'csv';
      if (!countsOnly)
        return sendJsonStream(
          reply,
          jsonArrayParts(await complianceWithHosts(patches, selectHosts), complianceRowJson),
        );
      const rows =
        q.host === undefined
          ? buildComplianceCounts(patches, await tallies.get())
          : await countsOfRows(await complianceWithHosts(patches, selectHosts));
      return rowsOrCsv(
        reply,
        q.format,
        rows,
        `compliance-catalog-${published.sequence}.csv`,
        COMPLIANCE_COLUMNS,
      );
    },
  );

  app.get<{ Querystring: ReportFilterQuerystring }>(
    '/v1/reports/downloaded',
    { schema: filterSchema },
    async (request, reply) => {
      const q = request.query;
      const range = parseTimeRange(q);
      await currentCatalog();
      // since/until select by the time the host's patch entered its state.
      const pages = downloadedPages(store, q, (since) => inTimeRange(since, range));
      if (q.format !== 'csv') return sendJsonStream(reply, jsonArrayParts(pages));
      const cells = async function* () {
        for await (const rows of pages) yield cellsOf(DOWNLOADED_COLUMNS, rows);
      };
      return sendCsv(reply, 'downloaded.csv', csvStream(DOWNLOADED_COLUMNS, cells()));
    },
  );

  /**
   * The events of `query` (at most query.limit) in pages of CSV_PAGE, each read after the
   * last event of the one before, starting with `first` (the first page, already read).
   */
  async function* eventPages(query: HistoryQuery, first: StoredEvent[]): AsyncGenerator<StoredEvent[]> {
    let page = first;
    let asked = Math.min(CSV_PAGE, query.limit);
    let read = 0;
    for (;;) {
      yield page;
      read += page.length;
      const last = page.at(-1);
      if (last === undefined || page.length < asked || read >= query.limit) return;
      asked = Math.min(CSV_PAGE, query.limit - read);
      page = await store.history({ ...query, limit: asked, before: { at: last.at, id: last.id } });
    }
  }

  /** An event-history route: the page of events its filters select, as `rows` turns them into answers. */
  function historyRoute<K extends string>(route: {
    path: string;
    schema: typeof historySchema | typeof installsSchema;
    installsOnly: boolean;
    rows: (events: StoredEvent[]) => Promise<readonly Record<K, unknown>[]> | readonly Record<K, unknown>[];
    csvFile: string;
    columns: readonly K[];
  }): void {
    app.get<{ Querystring: HistoryQuerystring }>(
      route.path,
      { schema: route.schema },
      async (request, reply) => {
        const q = request.query;
        const query = await historyQuery(q, route.installsOnly);
        if (q.format !== 'csv') {
          const events = await store.history(query);
          linkNext(reply, route.path, q, events, query.limit);
          return route.rows(events);
        }
        // Streamed page by page. The first is read before the answer starts, so that an error
        // is still an error status; when it is the whole answer, it says where the next starts.
        const first = await store.history({ ...query, limit: Math.min(CSV_PAGE, query.limit) });
        if (query.limit <= CSV_PAGE) linkNext(reply, route.path, q, first, query.limit);
        const cells = async function* () {
          for await (const events of eventPages(query, first))
            yield cellsOf(route.columns, await route.rows(events));
        };
        return sendCsv(reply, route.csvFile, csvStream(route.columns, cells()));
      },
    );
  }

  historyRoute({
    path: '/v1/reports/installs',
    schema: installsSchema,
    installsOnly: true,
    rows: (events) => installHistoryRows(store, events),
    csvFile: 'installs.csv',
    columns: INSTALL_COLUMNS,
  });

  historyRoute({
    path: '/v1/reports/history',
    schema: historySchema,
    installsOnly: false,
    rows: (events) => events,
    csvFile: 'history.csv',
    columns: HISTORY_COLUMNS,
  });
};
