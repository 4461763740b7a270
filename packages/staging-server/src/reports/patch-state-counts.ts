// The per-patch state counters (ReportStore.patchStateCounts) as both stores hand them out.
import type { PatchState } from '@patchbay/core';

export interface PatchStateCountRow {
  patchId: string;
  state: PatchState;
  hosts: number;
}

/** patchId → (state → hosts), from counter rows (those at 0 left out). */
export function byPatch(rows: readonly PatchStateCountRow[]): Map<string, Map<PatchState, number>> {
  const counts = new Map<string, Map<PatchState, number>>();
  for (const { patchId, state, hosts } of rows) {
    if (hosts <= 0) continue;
    let states = counts.get(patchId);
    if (states === undefined) counts.set(patchId, (states = new Map()));
    states.set(state, hosts);
  }
  return counts;
}
