// A patch whose file (or signed description) failed is held back, and so is every patch that
// requires it, directly or through other held-back patches (CONTRACT §1). One rule for the
// staging server's sync and for a catalog read from TUF metadata.

import { redactCredentials } from './redact.js';

export interface HeldBack {
  patchId: string;
  error: string;
}

/**
 * `failed` maps patch id to its own error. Returns the failed ids that are not among `patches`
 * first (in `failed` order), then every held-back patch in `patches` order; a dependant's error
 * names the requirement it waits for and the root cause.
 */
export function holdBack(
  patches: readonly { id: string; requires?: string[] }[],
  failed: ReadonlyMap<string, string>,
): HeldBack[] {
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
  // Errors quote file URLs: never with their user:password (they reach /v1/status and mails).
  for (const entry of held.values()) entry.error = redactCredentials(entry.error);
  const listed = new Set(patches.map((p) => p.id));
  const unlisted = [...failed.keys()].filter((id) => !listed.has(id));
  return [
    ...unlisted.map((id) => ({ patchId: id, error: held.get(id)!.error })),
    ...patches.filter((p) => held.has(p.id)).map((p) => ({ patchId: p.id, error: held.get(p.id)!.error })),
  ];
}
