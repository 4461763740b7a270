// Per-patch compliance of the fleet against the current catalog. Pure: it takes the
// catalog's patches, the hosts' profiles and a lookup of reported states.
import { isRelevant, type FeedPatch, type PatchState, type Severity } from '@patchbay/core';
import type { HostProfileRow } from './types.js';

/** A relevant patch the host has not reported on (its daemon has not seen this catalog yet). */
export const UNREPORTED = 'unreported';
export type ComplianceState = PatchState | typeof UNREPORTED;

export interface ComplianceRow {
  patchId: string;
  title: string;
  severity: Severity;
  product: string;
  release: string;
  installed: number;
  /** relevant and neither installed, failed nor superseded (includes unreported) */
  missing: number;
  failed: number;
  /** extension: hosts where a successor made this patch unnecessary */
  superseded: number;
  /**
   * extension: hosts with this patch installed whose last report says a reboot is
   * pending, when the patch requires one (0 for patches that do not)
   */
  pendingReboot: number;
  /** extension: from the catalog */
  rebootRequired: boolean;
  publishedAt: string;
  hosts: Record<string, ComplianceState>;
  /** extension (tiered mirrors): hostId -> the branch it reports through, for such hosts in `hosts` */
  via?: Record<string, string>;
}

const NO_STATES: ReadonlyMap<string, PatchState> = new Map();

export interface ProfileGroup {
  profile: HostProfileRow;
  hosts: HostProfileRow[];
}

/**
 * Hosts share a handful of profiles (platform + products): relevance is decided once per
 * profile rather than once per host, which matters at 100,000 hosts.
 */
export function groupByProfile(hosts: readonly HostProfileRow[]): ProfileGroup[] {
  const profiles = new Map<string, ProfileGroup>();
  for (const host of hosts) {
    const key = JSON.stringify([
      host.platform,
      [...host.products].sort((a, b) => (a.id + a.release).localeCompare(b.id + b.release)),
    ]);
    const group = profiles.get(key);
    if (group) group.hosts.push(host);
    else profiles.set(key, { profile: host, hosts: [host] });
  }
  return [...profiles.values()];
}

type Counts = Pick<ComplianceRow, 'installed' | 'missing' | 'failed' | 'superseded'>;

/** Count one cell; true when it is an installed patch (for pendingReboot). */
function tally(counts: Counts, state: ComplianceState): boolean {
  if (state === 'installed') {
    counts.installed++;
    return true;
  }
  if (state === 'failed') counts.failed++;
  else if (state === 'superseded') counts.superseded++;
  else counts.missing++;
  return false;
}

/** A patch's row with its facts and every count at 0. */
export function patchRow(patch: FeedPatch): ComplianceRow {
  return {
    patchId: patch.id,
    title: patch.title,
    severity: patch.severity,
    product: patch.product,
    release: patch.release,
    installed: 0,
    missing: 0,
    failed: 0,
    superseded: 0,
    pendingReboot: 0,
    rebootRequired: patch.rebootRequired === true,
    publishedAt: patch.publishedAt,
    hosts: {},
  };
}

/**
 * One pass over the fleet: `states` is every reported state (ReportStore.allStates),
 * read in one query; the work per patch is a map lookup per relevant host.
 */
export function buildCompliance(
  patches: readonly FeedPatch[],
  hosts: readonly HostProfileRow[],
  states: ReadonlyMap<string, ReadonlyMap<string, PatchState>>,
): ComplianceRow[] {
  const groups = groupByProfile(hosts);
  return patches.map((patch) => complianceRow(patch, groups, states.get(patch.id) ?? NO_STATES));
}

/** The profiles `patch` is relevant to. */
export function relevantGroups(patch: FeedPatch, groups: readonly ProfileGroup[]): ProfileGroup[] {
  return groups.filter(({ profile }) =>
    isRelevant(patch, { platform: profile.platform, products: profile.products }),
  );
}

/** A row's counts, and what its pendingReboot count depends on. */
type RowCounts = Counts & Pick<ComplianceRow, 'pendingReboot' | 'rebootRequired'>;

/**
 * Each host `patch` is relevant to, group by group, with its state (unreported when it has
 * not reported on the patch), counted into `row` before `visit` sees it.
 */
export function eachRelevantHost(
  patch: FeedPatch,
  groups: readonly ProfileGroup[],
  statesOfPatch: ReadonlyMap<string, PatchState>,
  row: RowCounts,
  visit: (host: HostProfileRow, state: ComplianceState) => void,
): void {
  for (const { hosts: members } of relevantGroups(patch, groups)) {
    for (const host of members) {
      const state: ComplianceState = statesOfPatch.get(host.hostId) ?? UNREPORTED;
      if (tally(row, state) && row.rebootRequired && host.pendingReboot) row.pendingReboot++;
      visit(host, state);
    }
  }
}

/** One patch's row of buildCompliance, from the states reported on it (hostId → state). */
function complianceRow(
  patch: FeedPatch,
  groups: readonly ProfileGroup[],
  statesOfPatch: ReadonlyMap<string, PatchState>,
): ComplianceRow {
  const row = patchRow(patch);
  eachRelevantHost(patch, groups, statesOfPatch, row, (host, state) => {
    row.hosts[host.hostId] = state;
    if (host.via !== undefined) (row.via ??= {})[host.hostId] = host.via;
  });
  return row;
}

/** A patch column of the host view: the patch's facts and counts, without the per-host map. */
export type PatchColumn = Omit<ComplianceRow, 'hosts' | 'via'>;

/** One host's row of the compliance matrix (the host view, `?view=hosts`). */
export interface HostComplianceRow extends Counts {
  hostId: string;
  hostname: string;
  platform: string;
  lastSeenAt: string;
  pendingReboot: boolean;
  /** the selected patches relevant to this host */
  relevant: number;
  /** missing + failed: relevant patches that still have to reach the host */
  behind: number;
  /** patchId -> state, for the selected patches relevant to this host (others are absent) */
  states: Record<string, ComplianceState>;
  /** extension (tiered mirrors): the branch the host reports through */
  via?: string;
}

export interface HostMatrix {
  /** the selected patches in catalog order, counted over the given hosts (as buildCompliance) */
  patches: PatchColumn[];
  /**
   * one row per given host to which a selected patch is relevant, in the order given (as
   * buildCompliance lists a host under a patch only when the patch is relevant to it)
   */
  hosts: HostComplianceRow[];
}

/**
 * The same matrix as buildCompliance, turned to one row per host (what a page of hosts
 * needs), in the same single pass; the patch columns carry the same counts.
 */
export function buildHostMatrix(
  patches: readonly FeedPatch[],
  hosts: readonly HostProfileRow[],
  states: ReadonlyMap<string, ReadonlyMap<string, PatchState>>,
): HostMatrix {
  const columns = patches.map(patchRow);
  const rows = new Map<string, HostComplianceRow>();
  for (const host of hosts) {
    rows.set(host.hostId, {
      hostId: host.hostId,
      hostname: host.hostname,
      platform: host.platform,
      lastSeenAt: host.lastSeenAt,
      pendingReboot: host.pendingReboot,
      relevant: 0,
      installed: 0,
      missing: 0,
      failed: 0,
      superseded: 0,
      behind: 0,
      states: {},
      ...(host.via !== undefined ? { via: host.via } : {}),
    });
  }
  const groups = groupByProfile(hosts);
  patches.forEach((patch, index) => {
    const column = columns[index]!;
    const statesOfPatch = states.get(patch.id) ?? NO_STATES;
    for (const { profile, hosts: members } of groups) {
      if (!isRelevant(patch, { platform: profile.platform, products: profile.products })) continue;
      for (const host of members) {
        const state: ComplianceState = statesOfPatch.get(host.hostId) ?? UNREPORTED;
        const row = rows.get(host.hostId)!;
        row.states[patch.id] = state;
        row.relevant++;
        tally(row, state);
        if (tally(column, state) && column.rebootRequired && host.pendingReboot) column.pendingReboot++;
      }
    }
  });
  const listed: HostComplianceRow[] = [];
  for (const row of rows.values()) {
    row.behind = row.missing + row.failed;
    if (row.relevant > 0) listed.push(row);
  }
  return { patches: columns.map(({ hosts: _hosts, ...column }) => column), hosts: listed };
}
