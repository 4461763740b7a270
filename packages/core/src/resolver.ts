// STUB — implemented by the core-schema helper. Pure functions: no I/O.
import type { FeedPatch, PatchState } from './types.js';

export interface HostProfile {
  products: { id: string; release: string }[];
  /** Node process.platform */
  platform: string;
}

export interface HostKnowledge {
  /** ids detected or recorded as installed on this host */
  installed: ReadonlySet<string>;
  /** ids whose files are all in the local verified cache */
  downloaded: ReadonlySet<string>;
  /** ids whose last install failed, with the message */
  failed: ReadonlyMap<string, string>;
  /** ids uninstalled by patchbay (and not re-installed) */
  uninstalled: ReadonlySet<string>;
}

export interface PatchEvaluation {
  patch: FeedPatch;
  state: PatchState;
  /** why blocked / superseded / failed, naming ids */
  reason?: string;
}

/** True when the patch's product/release is one of the host's and the platform matches. */
export function isRelevant(_patch: FeedPatch, _host: HostProfile): boolean {
  throw new Error('not implemented');
}

/**
 * State of every relevant patch for this host (irrelevant ones are omitted).
 * blocked: a requirement is missing from the catalog, blocked itself, or in a cycle (reason names ids).
 * superseded: not installed and a successor is installed.
 * A requirement counts as satisfied when it, or an installed patch superseding it, is installed.
 */
export function evaluatePatches(
  _patches: readonly FeedPatch[],
  _host: HostProfile,
  _known: HostKnowledge,
): PatchEvaluation[] {
  throw new Error('not implemented');
}

export interface InstallPlan {
  /** what to install, requirements before dependants */
  order: FeedPatch[];
  /** selected (or required) ids that cannot be installed: reason names ids */
  blocked: { id: string; reason: string }[];
  /** selected ids that need nothing: already installed, superseded (reason says) */
  skipped: { id: string; reason: string }[];
}

/**
 * Topological install order for the selected ids plus every requirement not yet installed.
 * Unknown selected ids are the caller's to reject first (PB_ERR_UNKNOWN_PATCH).
 */
export function resolveInstallOrder(
  _patches: readonly FeedPatch[],
  _host: HostProfile,
  _installed: ReadonlySet<string>,
  _selected: readonly string[],
): InstallPlan {
  throw new Error('not implemented');
}

/** Ids in `plan` that (transitively) require `failedId`: they must fail with it. */
export function dependantsWithin(_order: readonly FeedPatch[], _failedId: string): string[] {
  throw new Error('not implemented');
}

/**
 * Installed patches that (transitively) require `id`, in the order they must be
 * uninstalled for a cascade (dependants before what they require).
 */
export function installedDependants(
  _patches: readonly FeedPatch[],
  _installed: ReadonlySet<string>,
  _id: string,
): string[] {
  throw new Error('not implemented');
}
