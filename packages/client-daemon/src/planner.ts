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

/**
 * Ids the selection names; unknown ids, and ids of patches for another release or platform,
 * are a usage error (exit 2) naming them, before anything is recorded (a typo is not a failed
 * install, and is not mailed to the admins as one).
 */
export function selectIds(
  catalog: Catalog,
  evaluations: readonly PatchEvaluation[],
  sel: Selection,
  host?: HostProfile,
): string[] {
  if (sel.ids.length > 0) {
    assertKnownIds(catalog, sel.ids, host);
    if (host) assertForThisHost(catalog, sel.ids, host);
    return [...new Set(sel.ids)];
  }
  const pool = applicable(evaluations);
  if (sel.critical) return pool.filter((e) => e.patch.severity === 'critical').map((e) => e.patch.id);
  if (sel.all) return pool.map((e) => e.patch.id);
  throw new PatchbayError(ErrorCodes.USAGE, 'name patch ids, or pass --all or --critical', {});
}

export function assertKnownIds(catalog: Catalog, ids: readonly string[], host?: HostProfile): void {
  const known = new Set(catalog.patches.map((p) => p.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    // which catalog: under trust v2 a host sees only its own products' releases
    const mine = host
      ? ` (not in this host's catalog: ${host.products.map((p) => `${p.id} ${p.release}`).join(', ')})`
      : '';
    throw new PatchbayError(ErrorCodes.UNKNOWN_PATCH, `unknown patch id: ${unknown.join(', ')}${mine}`, {
      ids: unknown,
    });
  }
}

/** Named patches the catalog has, but for another product release or platform than this host's. */
export function assertForThisHost(catalog: Catalog, ids: readonly string[], host: HostProfile): void {
  const reasons: string[] = [];
  for (const id of new Set(ids)) {
    const versions = catalog.patches.filter((p) => p.id === id);
    if (versions.length === 0 || versions.some((p) => isRelevant(p, host))) continue;
    const p = versions[0]!;
    const mine = host.products.filter((h) => h.id === p.product).map((h) => `${h.id} ${h.release}`);
    const releaseOk = host.products.some((h) => h.id === p.product && h.release === p.release);
    reasons.push(
      releaseOk
        ? `${id} is for ${p.platforms?.join(', ')} only, not this host's platform (${host.platform})`
        : `${id} is for ${p.product} ${p.release}, not this host's ` +
            (mine.length > 0 ? mine.join(', ') : `products (${p.product} is not configured)`),
    );
  }
  if (reasons.length > 0) {
    throw new PatchbayError(ErrorCodes.UNKNOWN_PATCH, reasons.join('; '), {
      ids: [...new Set(ids)].filter((id) => reasons.some((r) => r.startsWith(`${id} `))),
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
