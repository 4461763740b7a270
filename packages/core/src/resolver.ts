// Which patches apply to a host, in which state, and in which order to install
// or uninstall them. Pure functions: no I/O. Everything is near-linear and
// iterative (no recursion), so a catalog of tens of thousands of patches with
// long dependency chains evaluates in milliseconds without exhausting the stack.
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

/** The order every list comes out in: product, release, publishedAt, id. */
export function comparePatches(a: FeedPatch, b: FeedPatch): number {
  return (
    cmp(a.product, b.product) ||
    cmp(a.release, b.release) ||
    cmp(a.publishedAt, b.publishedAt) ||
    cmp(a.id, b.id)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * True when the patch's product/release is one of the host's and the platform matches.
 * An absent or empty `platforms` list means every platform.
 */
export function isRelevant(patch: FeedPatch, host: HostProfile): boolean {
  const platformOk =
    !patch.platforms || patch.platforms.length === 0 || patch.platforms.includes(host.platform);
  return platformOk && host.products.some((p) => p.id === patch.product && p.release === patch.release);
}

/** Relevant patches by id (the first of duplicate ids wins; validated feeds have none). */
function relevantIndex(patches: readonly FeedPatch[], host: HostProfile): Map<string, FeedPatch> {
  const wanted = new Map<string, Set<string>>();
  for (const p of host.products) wanted.set(p.id, (wanted.get(p.id) ?? new Set()).add(p.release));
  const byId = new Map<string, FeedPatch>();
  for (const patch of patches) {
    if (byId.has(patch.id) || !wanted.get(patch.product)?.has(patch.release)) continue;
    if (patch.platforms && patch.platforms.length > 0 && !patch.platforms.includes(host.platform)) continue;
    byId.set(patch.id, patch);
  }
  return byId;
}

function sortedIds(ids: Iterable<string>, byId: ReadonlyMap<string, FeedPatch>): string[] {
  return [...ids].sort((a, b) => {
    const pa = byId.get(a);
    const pb = byId.get(b);
    return pa && pb ? comparePatches(pa, pb) : cmp(a, b);
  });
}

/**
 * For every id that a root supersedes, directly or through a chain, the root that
 * covers it. Roots are tried newest first, and a root that is itself covered by an
 * earlier (newer) root is not a root, so a chain C > B > A names C for both B and A.
 */
function supersededBy(byId: ReadonlyMap<string, FeedPatch>, roots: readonly string[]): Map<string, string> {
  const covered = new Map<string, string>();
  for (const root of sortedIds(roots, byId).reverse()) {
    if (covered.has(root)) continue;
    const queue = [root];
    for (let i = 0; i < queue.length; i++) {
      for (const old of byId.get(queue[i] as string)?.supersedes ?? []) {
        if (old === root || covered.has(old)) continue;
        covered.set(old, root);
        queue.push(old);
      }
    }
  }
  return covered;
}

interface Blocked {
  /** the patch's own reason: "requires X, which is not in the catalog for this host" */
  reason: string;
  /** the first cause with its subject, quoted by everything that requires this patch */
  cause: string;
}

/** At most this many ids of a cycle are spelled out, so reasons stay short. */
const CYCLE_IDS_SHOWN = 8;

function describeCycle(cycle: readonly string[], start: number): string {
  // cycle = [c0, c1, ..., ck-1]; the path from `start` round to itself.
  const n = cycle.length;
  const path: string[] = [];
  const steps = n <= CYCLE_IDS_SHOWN ? n : CYCLE_IDS_SHOWN - 1;
  for (let i = 0; i < steps; i++) path.push(cycle[(start + i) % n] as string);
  if (n > CYCLE_IDS_SHOWN) path.push(`... (${n - steps - 1} more)`, cycle[(start + n - 1) % n] as string);
  path.push(cycle[start] as string);
  return `dependency cycle: ${path.join(' -> ')}`;
}

/**
 * Which patches cannot be installed: a requirement that is not satisfied and is
 * missing from the host's catalog, part of a cycle, or blocked itself. Tarjan's SCC
 * algorithm (iterative) emits components requirements-first, so when a component
 * is decided, everything it requires already is.
 */
function findBlocked(
  byId: ReadonlyMap<string, FeedPatch>,
  satisfied: (id: string) => boolean,
): Map<string, Blocked> {
  const ids: string[] = [];
  for (const id of byId.keys()) if (!satisfied(id)) ids.push(id);
  ids.sort();
  const num = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) num.set(ids[i] as string, i);
  const n = ids.length;
  const unmet: string[][] = new Array<string[]>(n);
  const adj: number[][] = new Array<number[]>(n);
  for (let v = 0; v < n; v++) {
    const reqs: string[] = [];
    const edges: number[] = [];
    for (const r of byId.get(ids[v] as string)?.requires ?? []) {
      if (satisfied(r) || reqs.includes(r)) continue;
      reqs.push(r);
      const w = num.get(r);
      if (w !== undefined) edges.push(w);
    }
    unmet[v] = reqs;
    adj[v] = edges;
  }

  const blocked = new Map<string, Blocked>();
  const missingReason = (id: string, reqs: readonly string[]): boolean => {
    const missing = reqs.find((r) => !byId.has(r));
    if (missing === undefined) return false;
    const reason = `requires ${missing}, which is not in the catalog for this host`;
    blocked.set(id, { reason, cause: `${id} ${reason}` });
    return true;
  };
  const acyclic = (v: number): void => {
    const id = ids[v] as string;
    const reqs = unmet[v] as string[];
    if (reqs.length === 0 || missingReason(id, reqs)) return;
    const stuck = reqs.find((r) => blocked.has(r));
    if (stuck !== undefined) {
      const cause = (blocked.get(stuck) as Blocked).cause;
      blocked.set(id, { reason: `requires ${stuck}, which is blocked: ${cause}`, cause });
    }
  };
  const cyclic = (component: number[]): void => {
    const members = new Set(component);
    component.sort((a, b) => a - b);
    const cycle = findCycle(component[0] as number, adj, members).map((v) => ids[v] as string);
    const onCycle = new Map<string, number>();
    cycle.forEach((id, i) => onCycle.set(id, i));
    for (const v of component) {
      const id = ids[v] as string;
      const reqs = unmet[v] as string[];
      if (missingReason(id, reqs)) continue;
      const position = onCycle.get(id);
      if (position !== undefined) {
        const reason = describeCycle(cycle, position);
        blocked.set(id, { reason, cause: reason });
      } else {
        const next = reqs.find((r) => members.has(num.get(r) as number)) as string;
        const cause = describeCycle(cycle, 0);
        blocked.set(id, { reason: `requires ${next}, which is blocked: ${cause}`, cause });
      }
    }
  };

  // Iterative Tarjan on typed arrays: components come out requirements-first.
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack = new Int32Array(n);
  let stackTop = 0;
  const workNode = new Int32Array(n);
  const workEdge = new Int32Array(n);
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    let depth = 0;
    workNode[0] = root;
    workEdge[0] = 0;
    index[root] = low[root] = counter++;
    stack[stackTop++] = root;
    onStack[root] = 1;
    while (depth >= 0) {
      const v = workNode[depth] as number;
      const edges = adj[v] as number[];
      const e = workEdge[depth] as number;
      if (e < edges.length) {
        workEdge[depth] = e + 1;
        const w = edges[e] as number;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack[stackTop++] = w;
          onStack[w] = 1;
          depth++;
          workNode[depth] = w;
          workEdge[depth] = 0;
        } else if (onStack[w] && (index[w] as number) < (low[v] as number)) {
          low[v] = index[w] as number;
        }
        continue;
      }
      depth--;
      if (depth >= 0) {
        const u = workNode[depth] as number;
        if ((low[v] as number) < (low[u] as number)) low[u] = low[v] as number;
      }
      if (low[v] !== index[v]) continue;
      if (stack[stackTop - 1] === v && !edges.includes(v)) {
        stackTop--;
        onStack[v] = 0;
        acyclic(v);
        continue;
      }
      const component: number[] = [];
      let w: number;
      do {
        w = stack[--stackTop] as number;
        onStack[w] = 0;
        component.push(w);
      } while (w !== v);
      cyclic(component);
    }
  }
  return blocked;
}

/** Shortest cycle through `start` inside one strongly connected component (BFS). */
function findCycle(start: number, adj: readonly number[][], members: ReadonlySet<number>): number[] {
  const parent = new Map<number, number>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i] as number;
    for (const w of adj[v] as number[]) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[path.length - 1] !== start)
          path.push(parent.get(path[path.length - 1] as number) as number);
        return path.reverse();
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start]; // unreachable for a cyclic component
}

/** The facts both evaluatePatches and resolveInstallOrder start from. */
function analyse(patches: readonly FeedPatch[], host: HostProfile, installed: ReadonlySet<string>) {
  const byId = relevantIndex(patches, host);
  const covered = supersededBy(
    byId,
    [...installed].filter((id) => byId.has(id)),
  );
  const satisfied = (id: string): boolean => installed.has(id) || covered.has(id);
  const blocked = findBlocked(byId, satisfied);
  return { byId, covered, satisfied, blocked };
}

/**
 * State of every relevant patch for this host (irrelevant ones are omitted).
 * blocked: a requirement is missing from the catalog, blocked itself, or in a cycle (reason names ids).
 * superseded: not installed and a successor is installed.
 * A requirement counts as satisfied when it, or an installed patch superseding it, is installed.
 *
 * Precedence: installed, superseded, blocked, failed, uninstalled, downloaded, available.
 * An uninstalled patch stays 'uninstalled' (even with its files still cached) until
 * it is installed again, so a deliberate removal is visible and not mistaken for new.
 */
export function evaluatePatches(
  patches: readonly FeedPatch[],
  host: HostProfile,
  known: HostKnowledge,
): PatchEvaluation[] {
  const { byId, covered, blocked } = analyse(patches, host, known.installed);
  return [...byId.values()].sort(comparePatches).map((patch): PatchEvaluation => {
    const id = patch.id;
    if (known.installed.has(id)) return { patch, state: 'installed' };
    const successor = covered.get(id);
    if (successor !== undefined) {
      return { patch, state: 'superseded', reason: `superseded by ${successor}, which is installed` };
    }
    const stuck = blocked.get(id);
    if (stuck) return { patch, state: 'blocked', reason: stuck.reason };
    const failure = known.failed.get(id);
    if (failure !== undefined) return { patch, state: 'failed', reason: failure };
    if (known.uninstalled.has(id)) return { patch, state: 'uninstalled' };
    if (known.downloaded.has(id)) return { patch, state: 'downloaded' };
    return { patch, state: 'available' };
  });
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
 * Unknown selected ids are the caller's to reject first (PB_ERR_UNKNOWN_PATCH); one that
 * is not relevant to this host is reported blocked.
 *
 * Selected patches that are installed, superseded by an installed patch, or superseded
 * by another selected patch are skipped. A requirement that a selected patch supersedes
 * is not installed: the successor is installed before the patch that needs it.
 * Ties are broken by product, release, publishedAt, id.
 */
export function resolveInstallOrder(
  patches: readonly FeedPatch[],
  host: HostProfile,
  installed: ReadonlySet<string>,
  selected: readonly string[],
): InstallPlan {
  const { byId, covered, satisfied, blocked } = analyse(patches, host, installed);
  const plan: InstallPlan = { order: [], blocked: [], skipped: [] };

  const candidates: string[] = [];
  for (const id of sortedIds(new Set(selected), byId)) {
    const successor = covered.get(id);
    const stuck = blocked.get(id);
    if (!byId.has(id)) plan.blocked.push({ id, reason: `${id} is not in the catalog for this host` });
    else if (installed.has(id)) plan.skipped.push({ id, reason: 'already installed' });
    else if (successor !== undefined)
      plan.skipped.push({ id, reason: `superseded by ${successor}, which is installed` });
    else if (stuck) plan.blocked.push({ id, reason: stuck.reason });
    else candidates.push(id);
  }

  const selectedCover = supersededBy(byId, candidates);
  const roots: string[] = [];
  for (const id of candidates) {
    const successor = selectedCover.get(id);
    if (successor === undefined) roots.push(id);
    else plan.skipped.push({ id, reason: `superseded by ${successor}, which is also selected` });
  }

  // What each planned patch needs installed first.
  const needs = (patch: FeedPatch): string[] => {
    const out = new Set<string>();
    for (const r of patch.requires ?? []) {
      if (satisfied(r)) continue;
      const successor = selectedCover.get(r);
      if (successor === undefined) out.add(r);
      else if (successor !== patch.id) out.add(successor);
    }
    return out.size < 2 ? [...out] : sortedIds(out, byId);
  };

  // Iterative depth-first post-order: each patch after everything it needs.
  const state = new Map<string, 'active' | 'done'>();
  for (const root of roots) {
    if (state.has(root)) continue;
    const work: { id: string; next: string[]; i: number }[] = [];
    const enter = (id: string): void => {
      state.set(id, 'active');
      work.push({ id, next: needs(byId.get(id) as FeedPatch), i: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { id: string; next: string[]; i: number };
      if (frame.i < frame.next.length) {
        const dep = frame.next[frame.i++] as string;
        // 'active' can only come from a successor substituted for a requirement
        // closing a loop; real cycles are blocked before this point.
        if (!state.has(dep) && byId.has(dep)) enter(dep);
        continue;
      }
      work.pop();
      state.set(frame.id, 'done');
      plan.order.push(byId.get(frame.id) as FeedPatch);
    }
  }
  return plan;
}

function append(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Ids in `plan` that (transitively) require `failedId`: they must fail with it. */
export function dependantsWithin(order: readonly FeedPatch[], failedId: string): string[] {
  const inPlan = new Set(order.map((p) => p.id));
  // A requirement may be met by a successor in the plan instead of itself.
  const successors = new Map<string, string[]>();
  for (const patch of order) {
    for (const old of patch.supersedes ?? []) append(successors, old, patch.id);
  }
  const dependants = new Map<string, string[]>();
  for (const patch of order) {
    for (const r of patch.requires ?? []) {
      const providers = inPlan.has(r) ? [r] : (successors.get(r) ?? []);
      for (const provider of providers) append(dependants, provider, patch.id);
    }
  }
  const reached = new Set<string>([failedId]);
  const queue = [failedId];
  for (let i = 0; i < queue.length; i++) {
    for (const d of dependants.get(queue[i] as string) ?? []) {
      if (!reached.has(d)) {
        reached.add(d);
        queue.push(d);
      }
    }
  }
  return order.map((p) => p.id).filter((id) => id !== failedId && reached.has(id));
}

/**
 * Installed patches that (transitively) require `id`, in the order they must be
 * uninstalled for a cascade (dependants before what they require).
 * A requirement met by an installed successor counts as requiring that successor.
 */
export function installedDependants(
  patches: readonly FeedPatch[],
  installed: ReadonlySet<string>,
  id: string,
): string[] {
  const byId = new Map<string, FeedPatch>();
  for (const patch of patches) if (!byId.has(patch.id)) byId.set(patch.id, patch);
  const covered = supersededBy(
    byId,
    [...installed].filter((i) => byId.has(i)),
  );
  const dependants = new Map<string, string[]>();
  for (const patch of byId.values()) {
    if (!installed.has(patch.id)) continue;
    for (const r of new Set(patch.requires ?? [])) {
      const provider = installed.has(r) ? r : covered.get(r);
      if (provider !== undefined && provider !== patch.id) append(dependants, provider, patch.id);
    }
  }
  // Post-order over "is required by" edges: a patch comes out after all its dependants.
  const out: string[] = [];
  const seen = new Set<string>([id]);
  const work: { id: string; next: string[]; i: number }[] = [
    { id, next: (dependants.get(id) ?? []).sort(), i: 0 },
  ];
  while (work.length > 0) {
    const frame = work[work.length - 1] as { id: string; next: string[]; i: number };
    if (frame.i < frame.next.length) {
      const d = frame.next[frame.i++] as string;
      if (!seen.has(d)) {
        seen.add(d);
        work.push({ id: d, next: (dependants.get(d) ?? []).sort(), i: 0 });
      }
      continue;
    }
    work.pop();
    if (frame.id !== id) out.push(frame.id);
  }
  return out;
}
