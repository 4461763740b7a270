// What both stores make of the rows they read for the fleet views: reported states by patch,
// product lists parsed once per distinct text, a host's counters.
import type { PatchState } from '@patchbay/core';
import { MISSING_STATES, type HostViewQuery } from './types.js';

/** patchId → (hostId → state), from [patchId, hostId, state] rows. */
export function statesByPatch(
  rows: Iterable<readonly [string, string, PatchState]>,
): Map<string, Map<string, PatchState>> {
  const states = new Map<string, Map<string, PatchState>>();
  for (const [patchId, hostId, state] of rows) {
    let ofPatch = states.get(patchId);
    if (ofPatch === undefined) states.set(patchId, (ofPatch = new Map()));
    ofPatch.set(hostId, state);
  }
  return states;
}

/**
 * JSON.parse that parses each distinct text once: hosts share a few product lists, so a list
 * of 100,000 hosts parses a handful. The values are shared: callers must not mutate them.
 */
export function parsedOnce<T>(): (text: string) => T {
  const parsed = new Map<string, T>();
  return (text) => {
    let value = parsed.get(text);
    if (value === undefined) parsed.set(text, (value = JSON.parse(text) as T));
    return value;
  };
}

/** A host's patches per state class, as its clients row keeps them (missing: MISSING_STATES). */
export interface HostCounts {
  installed: number;
  failed: number;
  missing: number;
  superseded: number;
}

/**
 * The counters of a host whose patch rows are `patches`: an ingest that replaces a host's
 * snapshot writes them with its row, as its patch rows are then the report's.
 */
export function hostCounts(patches: readonly { state: string }[]): HostCounts {
  const counts: HostCounts = { installed: 0, failed: 0, missing: 0, superseded: 0 };
  for (const { state } of patches) {
    if (state === 'installed' || state === 'failed' || state === 'superseded') counts[state]++;
    else if ((MISSING_STATES as readonly string[]).includes(state)) counts.missing++;
  }
  return counts;
}

/** A store's names for the host view's own sort keys (camelCase in SQLite, snake_case in PostgreSQL). */
export interface HostKeyColumns {
  hostId: string;
  lastSeenAt: string;
}

/**
 * The host view page's ORDER BY (views.ts sortHosts: ties by hostId ascending), over clients
 * `c` and the profiles `r` (relevant) it is joined with; the counters are named alike in both stores.
 */
export function hostViewOrderBy(query: HostViewQuery, { hostId, lastSeenAt }: HostKeyColumns): string {
  const d = query.order === 'asc' ? 'ASC' : 'DESC';
  switch (query.sort) {
    case 'behind':
      return `r.relevant - c.installed - c.superseded ${d}, c.failed ${d}, c.${hostId}`;
    case 'failed':
      return `c.failed ${d}, c.${hostId}`;
    case 'hostId':
      return `c.${hostId} ${d}`;
    case 'lastSeenAt':
      return `c.${lastSeenAt} ${d}, c.${hostId}`;
  }
}

/** Sorts whose keys are the host's own: with every host listed, no profile is looked at. */
export const profileFree = (query: HostViewQuery): boolean =>
  query.everyHost && (query.sort === 'hostId' || query.sort === 'lastSeenAt');
