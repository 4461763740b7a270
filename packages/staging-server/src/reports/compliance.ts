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

/**
 * One pass over the fleet: `states` is every reported state (ReportStore.allStates),
 * read in one query; the work per patch is a map lookup per relevant host.
 */
export function buildCompliance(
  patches: readonly FeedPatch[],
  hosts: readonly HostProfileRow[],
  states: ReadonlyMap<string, ReadonlyMap<string, PatchState>>,
): ComplianceRow[] {
  const pendingReboot = new Set(hosts.filter((h) => h.pendingReboot).map((h) => h.hostId));
  const viaOf = new Map(hosts.flatMap((h) => (h.via !== undefined ? [[h.hostId, h.via] as const] : [])));
  // Hosts share a handful of profiles (platform + products): decide relevance once per
  // profile rather than once per host, which matters at 100,000 hosts.
  const profiles = new Map<string, { profile: HostProfileRow; hostIds: string[] }>();
  for (const host of hosts) {
    const key = JSON.stringify([
      host.platform,
      [...host.products].sort((a, b) => (a.id + a.release).localeCompare(b.id + b.release)),
    ]);
    const group = profiles.get(key);
    if (group) group.hostIds.push(host.hostId);
    else profiles.set(key, { profile: host, hostIds: [host.hostId] });
  }

  return patches.map((patch) => {
    const statesOfPatch = states.get(patch.id) ?? NO_STATES;
    const rebootRequired = patch.rebootRequired === true;
    const row: ComplianceRow = {
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
      rebootRequired,
      publishedAt: patch.publishedAt,
      hosts: {},
    };
    for (const { profile, hostIds } of profiles.values()) {
      if (!isRelevant(patch, { platform: profile.platform, products: profile.products })) continue;
      for (const hostId of hostIds) {
        const state: ComplianceState = statesOfPatch.get(hostId) ?? UNREPORTED;
        row.hosts[hostId] = state;
        const via = viaOf.get(hostId);
        if (via !== undefined) (row.via ??= {})[hostId] = via;
        if (state === 'installed') {
          row.installed++;
          if (rebootRequired && pendingReboot.has(hostId)) row.pendingReboot++;
        } else if (state === 'failed') row.failed++;
        else if (state === 'superseded') row.superseded++;
        else row.missing++;
      }
    }
    return row;
  });
}
