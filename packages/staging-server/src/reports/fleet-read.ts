// Reported states as the compliance views take them, from the rows a store reads.
import type { PatchState } from '@patchbay/core';

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
