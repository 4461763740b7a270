import { ErrorCodes, PatchbayError, evaluatePatches, isRelevant, resolveInstallOrder } from '@patchbay/core';
import type {
  Catalog,
  FeedPatch,
  HostKnowledge,
  HostProfile,
  InstallPlan,
  PatchEvaluation,
} from '@patchbay/core';

/** How the user picked patches: ids, or --all / --critical. */
export interface Selection {
  ids: readonly string[];
  all: boolean;
  critical: boolean;
}

/** States a patch can be in and still be offered for --all / --critical / autoInstall. */
const APPLICABLE_STATES = new Set(['available', 'downloaded', 'failed']);

export function relevantPatches(catalog: Catalog, host: HostProfile): FeedPatch[] {
  return catalog.patches.filter((p) => isRelevant(p, host));
}

export function evaluate(catalog: Catalog, host: HostProfile, known: HostKnowledge): PatchEvaluation[] {
  return evaluatePatches(catalog.patches, host, known);
}

/**
 * Applicable = for this host's products and platform, not installed, not superseded,
 * not blocked. Patches an admin uninstalled are left alone by --all and autoInstall
 * (name them to put them back).
 */
export function applicable(evaluations: readonly PatchEvaluation[]): PatchEvaluation[] {
  return evaluations.filter((e) => APPLICABLE_STATES.has(e.state));
}

/** Ids the selection names; unknown ids are a usage error (exit 2) naming them. */
export function selectIds(
  catalog: Catalog,
  evaluations: readonly PatchEvaluation[],
  sel: Selection,
): string[] {
  if (sel.ids.length > 0) {
    assertKnownIds(catalog, sel.ids);
    return [...new Set(sel.ids)];
  }
  const pool = applicable(evaluations);
  if (sel.critical) return pool.filter((e) => e.patch.severity === 'critical').map((e) => e.patch.id);
  if (sel.all) return pool.map((e) => e.patch.id);
  throw new PatchbayError(ErrorCodes.USAGE, 'name patch ids, or pass --all or --critical', {});
}

export function assertKnownIds(catalog: Catalog, ids: readonly string[]): void {
  const known = new Set(catalog.patches.map((p) => p.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new PatchbayError(ErrorCodes.UNKNOWN_PATCH, `unknown patch id: ${unknown.join(', ')}`, {
      ids: unknown,
    });
  }
}

/** Install order for the selection and every requirement not yet installed. */
export function planInstall(
  catalog: Catalog,
  host: HostProfile,
  known: HostKnowledge,
  selected: readonly string[],
): InstallPlan {
  return resolveInstallOrder(catalog.patches, host, known.installed, selected);
}
