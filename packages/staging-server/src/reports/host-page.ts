// The status page's host view (`?view=hosts`) a page at a time from counters kept at ingest:
// the hosts ordered in SQL by their rows' counters (ReportStore.hostViewPage), only the page's
// states read, the patch columns from the per-patch counters (compliance-counts.ts). The
// counts equal those of buildHostMatrix over the whole fleet when hosts report states of the
// patches relevant to them only (as compliance-counts.ts assumes) and of no patch outside the
// catalog: when a stored row names such a patch (a catalog dropped it and its hosts have not
// reported since), this answers null and the caller builds the whole matrix.
import { isRelevant, type FeedPatch } from '@patchbay/core';
import { buildHostMatrix, type HostMatrix } from './compliance.js';
import { buildComplianceCounts, type FleetTallies } from './compliance-counts.js';
import type { HostView } from './report-store-api.js';
import type { CounterSort, RelevantProfile } from './types.js';
import { sortHosts, type HostSort } from './views.js';

/** States a host's counters take in the sort keys: a row in them outside the catalog moves a key. */
const KEYED_STATES = ['installed', 'superseded', 'failed'] as const;

export interface HostPage extends HostMatrix {
  /** hosts with a selected patch relevant to them, before paging */
  total: number;
}

export interface HostPageQuery {
  sort: CounterSort;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

/** What of a host view request decides whether the counters can answer it. */
export interface HostViewRequest {
  host?: string;
  patch?: string;
  severity?: string;
  release?: string;
  since?: string;
  until?: string;
  search?: string;
  format?: string;
}

/**
 * The sort to ask counterHostPage for, or null when the counters cannot answer the request:
 * a filter or a search (the hosts or patches are not the whole fleet and catalog), the CSV
 * (every host), or the hostname order (the locale's, which SQL does not have).
 */
export function countersServe(request: HostViewRequest, sort: HostSort): CounterSort | null {
  const { host, patch, severity, release, since, until, search, format } = request;
  if ([host, patch, severity, release, since, until, search].some((filter) => filter !== undefined))
    return null;
  return format === 'csv' || sort === 'hostname' ? null : sort;
}

/**
 * One page of the host view over every catalog patch (`patches`) and every host, or null
 * when a stored state of a patch outside the catalog would make the counters' keys differ
 * from the matrix's.
 */
export async function counterHostPage(
  store: HostView,
  patches: readonly FeedPatch[],
  tallies: FleetTallies,
  page: HostPageQuery,
): Promise<HostPage | null> {
  const inCatalog = new Set(patches.map((p) => p.id));
  for (const [patchId, states] of tallies.states)
    if (!inCatalog.has(patchId) && KEYED_STATES.some((s) => (states.get(s) ?? 0) > 0)) return null;
  const profiles: RelevantProfile[] = [];
  let total = 0;
  for (const profile of tallies.profiles) {
    const relevant = patches.filter((p) => isRelevant(p, profile)).length;
    if (relevant === 0) continue;
    total += profile.hosts;
    profiles.push({ platform: profile.platform, productsText: profile.productsText, relevant });
  }
  const everyHost = profiles.length === tallies.profiles.length;
  const fleet = await store.hostViewPage({ ...page, profiles, everyHost });
  return {
    total,
    patches: buildComplianceCounts(patches, tallies),
    hosts: buildHostMatrix(patches, fleet.hosts, fleet.states).hosts,
  };
}

/** One page cut from the whole matrix, sorted as asked; `limitOf` the page's size for the total. */
export function cutHostPage(
  matrix: HostMatrix,
  page: { sort: HostSort; order: 'asc' | 'desc'; offset: number },
  limitOf: (total: number) => number,
): HostPage {
  const total = matrix.hosts.length;
  const hosts = sortHosts(matrix.hosts, page.sort, page.order).slice(
    page.offset,
    page.offset + limitOf(total),
  );
  return { total, patches: matrix.patches, hosts };
}
