// The per-patch compliance counts of the whole fleet without reading every state: the
// hosts that reported each (patch, state) come from counters kept at ingest
// (ReportStore.patchStateCounts), the hosts a patch is relevant to from one count per
// profile. Hosts report states of the patches relevant to them only, so the counts equal
// those buildCompliance makes from every state (missing: relevant and neither installed,
// failed nor superseded, unreported included).
import { isRelevant, type FeedPatch, type PatchState } from '@patchbay/core';
import { patchRow, type PatchColumn } from './compliance.js';
import type { ProfileCount } from './types.js';

export interface FleetTallies {
  profiles: readonly ProfileCount[];
  states: ReadonlyMap<string, ReadonlyMap<PatchState, number>>;
  /** patchId → hosts with it installed and a reboot pending */
  pendingReboot: ReadonlyMap<string, number>;
}

/** One row per patch, in the order given: the compliance rows without their `hosts` map. */
export function buildComplianceCounts(patches: readonly FeedPatch[], tallies: FleetTallies): PatchColumn[] {
  return patches.map((patch) => {
    let relevant = 0;
    for (const profile of tallies.profiles) if (isRelevant(patch, profile)) relevant += profile.hosts;
    const states = tallies.states.get(patch.id);
    const count = (state: PatchState): number => states?.get(state) ?? 0;
    const [installed, failed, superseded] = [count('installed'), count('failed'), count('superseded')];
    const { hosts: _hosts, ...row } = patchRow(patch);
    return {
      ...row,
      installed,
      missing: Math.max(0, relevant - installed - failed - superseded),
      failed,
      superseded,
      pendingReboot: row.rebootRequired ? (tallies.pendingReboot.get(patch.id) ?? 0) : 0,
    };
  });
}
