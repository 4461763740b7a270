// The admin reports' rows, joined in code with the patch facts (title, severity,
// release) that the catalogs supplied: Patches Downloaded and Patches Installed —
// history. (Patches Installed — current is compliance.ts.)
import type { FeedPatch } from '@patchbay/core';
import type { ReportStore } from './report-store.js';
import type { CachedPatchRow, PatchFacts, StoredEvent } from './types.js';

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

/** Patches Downloaded: which hosts hold which patches in their cache, by patch then host. */
export function downloadedReport(
  store: ReportStore,
  filters: PatchFilters,
  inRange: (since: string | null) => boolean,
): DownloadedRow[] {
  const facts = store.patchFacts();
  const query: { host?: string; patch?: string } = {};
  if (filters.host !== undefined) query.host = filters.host;
  if (filters.patch !== undefined) query.patch = filters.patch;
  const rows: DownloadedRow[] = [];
  for (const row of store.cachedPatches(query)) {
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
  return rows;
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
export function installHistoryRows(store: ReportStore, events: readonly StoredEvent[]): InstallHistoryRow[] {
  const facts = store.patchFacts();
  const hostnames = store.hostnames(events.map((e) => e.hostId));
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
