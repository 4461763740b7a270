// A patch whose file failed is held back, and so is every patch that requires
// it, directly or through other held-back patches (CONTRACT §1).
import type { FeedPatch } from '@patchbay/core';
import type { HeldBackPatch } from '../mirror.js';

/**
 * `failed` maps patch id to its own error. Returns every held-back patch in feed
 * order; a dependant's error names the requirement it waits for and the root cause.
 */
export function holdBack(
  patches: readonly FeedPatch[],
  failed: ReadonlyMap<string, string>,
): HeldBackPatch[] {
  const held = new Map<string, { error: string; root: string }>();
  for (const [id, error] of failed) held.set(id, { error, root: `${id}: ${error}` });

  // Fixed point: each pass holds back dependants of what is held; a chain of n needs n passes.
  let changed = true;
  while (changed) {
    changed = false;
    for (const patch of patches) {
      if (held.has(patch.id)) continue;
      const blocker = (patch.requires ?? []).find((id) => held.has(id));
      if (blocker === undefined) continue;
      const root = held.get(blocker)!.root;
      held.set(patch.id, { error: `requires held-back patch ${blocker} (${root})`, root });
      changed = true;
    }
  }
  return patches.filter((p) => held.has(p.id)).map((p) => ({ patchId: p.id, error: held.get(p.id)!.error }));
}
