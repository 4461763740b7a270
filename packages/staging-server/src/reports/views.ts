// The admin reports' rows, joined in code with the patch facts (title, severity,
// release) that the catalogs supplied: Patches Downloaded and Patches Installed —
// history. (Patches Installed — current is compliance.ts.) Also the sort and search of
// the compliance report's host view (the status page's matrix).
import type { FeedPatch } from '@patchbay/core';
import type { HostComplianceRow, HostMatrix } from './compliance.js';
import type { FleetExports, FleetQueries } from './report-store.js';
import type { CachedPatchQuery, CachedPatchRow, PatchFacts, StoredEvent } from './types.js';

export interface PatchFilters {
  host?: string;
  patch?: string;
  severity?: string;
  release?: string;
}

type Facts = Pick<PatchFacts, 'title' | 'severity' | 'release'>;
const UNKNOWN_FACTS: { title: null; severity: null; release: null } = {
  title: null,
  severity: null,
  release: null,
};

function matchesFacts(facts: Facts | undefined, filters: PatchFilters): boolean {
  if (filters.severity !== undefined && facts?.severity !== filters.severity) return false;
  if (filters.release !== undefined && facts?.release !== filters.release) return false;
  return true;
}

export interface DownloadedRow {
  patchId: string;
  title: string | null;
  severity: string | null;
  release: string | null;
  hostId: string;
  hostname: string;
  state: CachedPatchRow['state'];
  cached: boolean | null;
  since: string | null;
}

/** Rows of Patches Downloaded read from the store at a time. */
export const DOWNLOADED_PAGE = 5000;

/**
 * Patches Downloaded, a page at a time: which hosts hold which patches in their cache, by
 * patch then host. Each page is read after the last row of the one before (keyset), so
 * reports stored meanwhile neither repeat a row nor hide one that was there throughout.
 */
export async function* downloadedPages(
  store: Pick<FleetQueries & FleetExports, 'patchFacts' | 'cachedPatches'>,
  filters: PatchFilters,
  inRange: (since: string | null) => boolean,
  pageSize = DOWNLOADED_PAGE,
): AsyncGenerator<DownloadedRow[]> {
  const query: CachedPatchQuery = { limit: pageSize };
  if (filters.host !== undefined) query.host = filters.host;
  if (filters.patch !== undefined) query.patch = filters.patch;
  const facts = await store.patchFacts();
  for (;;) {
    const cached = await store.cachedPatches(query);
    const rows: DownloadedRow[] = [];
    for (const row of cached) {
      const f = facts.get(row.patchId);
      if (!matchesFacts(f, filters) || !inRange(row.since)) continue;
      const { title, severity, release } = f ?? UNKNOWN_FACTS;
      rows.push({
        patchId: row.patchId,
        title,
        severity,
        release,
        hostId: row.hostId,
        hostname: row.hostname,
        state: row.state,
        cached: row.cached,
        since: row.since,
      });
    }
    yield rows;
    const last = cached.at(-1);
    if (last === undefined || cached.length < pageSize) return;
    query.after = { patchId: last.patchId, hostId: last.hostId };
  }
}

export interface InstallHistoryRow {
  /** the event id, also the paging cursor */
  id: number;
  at: string;
  hostId: string;
  hostname: string | null;
  type: StoredEvent['type'];
  patchId: string | null;
  title: string | null;
  severity: string | null;
  release: string | null;
  outcome: string;
  message: string;
  /** extension (tiered mirrors): the branch the host reports through */
  via?: string;
}

/** Patches Installed — history: events joined with host names and patch facts. */
export async function installHistoryRows(
  store: FleetQueries,
  events: readonly StoredEvent[],
): Promise<InstallHistoryRow[]> {
  const [facts, hostnames] = await Promise.all([
    store.patchFacts(),
    store.hostnames(events.map((e) => e.hostId)),
  ]);
  return events.map((e) => {
    const { title, severity, release } =
      (e.patchId !== null ? facts.get(e.patchId) : undefined) ?? UNKNOWN_FACTS;
    return {
      id: e.id,
      at: e.at,
      hostId: e.hostId,
      hostname: hostnames.get(e.hostId) ?? null,
      type: e.type,
      patchId: e.patchId,
      title,
      severity,
      release,
      outcome: e.outcome,
      message: e.message,
      ...(e.via !== undefined ? { via: e.via } : {}),
    };
  });
}

/** Catalog patches that pass the patch filters and whose publishedAt lies in range. */
export function selectPatches(
  patches: readonly FeedPatch[],
  filters: PatchFilters,
  inRange: (publishedAt: string) => boolean,
): FeedPatch[] {
  return patches.filter(
    (p) =>
      (filters.patch === undefined || p.id === filters.patch) &&
      matchesFacts(p, filters) &&
      inRange(p.publishedAt),
  );
}

/** Sort keys of the host view; `behind` (most behind first) is the default. */
export const HOST_SORTS = ['behind', 'failed', 'hostId', 'hostname', 'lastSeenAt'] as const;
export type HostSort = (typeof HOST_SORTS)[number];
export type SortOrder = 'asc' | 'desc';

/** The body of `GET /v1/reports/compliance?view=hosts` (JSON): one page of the host matrix. */
export interface HostViewPage extends Omit<HostMatrix, 'hosts'> {
  /** the catalog the matrix was built against */
  sequence: number;
  /** hosts matching the filters, before paging (also `X-Total-Count`) */
  total: number;
  offset: number;
  limit: number;
  sort: HostSort;
  order: SortOrder;
  /** every release of the catalog, so a release filter can offer them all */
  releases: string[];
  hosts: HostComplianceRow[];
}

/** The order a sort key takes when none is given: counts largest first, names and times ascending. */
export function defaultOrder(sort: HostSort): SortOrder {
  return sort === 'behind' || sort === 'failed' ? 'desc' : 'asc';
}

type SortableHost = Pick<HostComplianceRow, 'hostId' | 'hostname' | 'lastSeenAt' | 'behind' | 'failed'>;

/**
 * Hosts sorted by one key, ties by hostId ascending (so a page boundary is stable).
 * `behind` breaks its ties by failed, so of two equally behind hosts the one with
 * failures comes first.
 */
export function sortHosts<T extends SortableHost>(rows: readonly T[], sort: HostSort, order: SortOrder): T[] {
  const sign = order === 'asc' ? 1 : -1;
  const byId = (a: T, b: T): number => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0);
  const primary = (a: T, b: T): number => {
    switch (sort) {
      case 'behind':
        return a.behind - b.behind || a.failed - b.failed;
      case 'failed':
        return a.failed - b.failed;
      case 'hostname':
        return a.hostname.localeCompare(b.hostname, 'en');
      case 'lastSeenAt':
        return a.lastSeenAt < b.lastSeenAt ? -1 : a.lastSeenAt > b.lastSeenAt ? 1 : 0;
      case 'hostId':
        return byId(a, b);
    }
  };
  return [...rows].sort((a, b) => sign * primary(a, b) || byId(a, b));
}

/** Hosts whose id or name contains `search`, ignoring case (the host view's search box). */
export function matchesSearch(host: { hostId: string; hostname: string }, search: string): boolean {
  const needle = search.toLowerCase();
  return host.hostId.toLowerCase().includes(needle) || host.hostname.toLowerCase().includes(needle);
}
