// cache.prune: after installs and checks, drop cached files of patches that are installed
// or superseded, unless a patch still pending (any other state) names the same blob.
// An uninstall of a pruned patch downloads its files again (apply.ts fetches what the
// cache lacks), so nothing is lost but disk space.
import { stat } from 'node:fs/promises';
import { errorMessage, type Catalog } from '@patchbay/core';
import type { Ledger } from './ledger.js';
import type { Session } from './session.js';

/** States whose files this host will not need again short of an uninstall. */
const DONE_STATES = new Set(['installed', 'superseded']);

export interface PruneResult {
  /** digests removed from the cache */
  removed: string[];
  bytes: number;
  /** patch ids all of whose files are now gone from the cache */
  patches: string[];
}

/**
 * The blobs to drop, from the states last observed (ledger.observe, so call after
 * observeStates). Patches with no observed state (not for this host) are left alone.
 */
export function prunableBlobs(catalog: Catalog, observed: Ledger['observed']): Set<string> {
  const keep = new Set<string>();
  const drop = new Set<string>();
  for (const patch of catalog.patches) {
    const state = observed[patch.id]?.state;
    if (state === undefined) continue;
    const target = DONE_STATES.has(state) ? drop : keep;
    for (const file of patch.files) target.add(file.sha256);
  }
  for (const hex of keep) drop.delete(hex);
  return drop;
}

/**
 * Remove prunable blobs from the cache (when cache.prune) and mark their patches as no
 * longer cached, so the report that follows says so. Never throws: a prune that fails
 * is logged and retried after the next command.
 */
export async function pruneCache(session: Session, ledger: Ledger, catalog: Catalog): Promise<PruneResult> {
  const result: PruneResult = { removed: [], bytes: 0, patches: [] };
  if (!session.config.cache.prune) return result;
  try {
    for (const hex of prunableBlobs(catalog, ledger.observed)) {
      const size = await blobSize(session, hex);
      if (size === null) continue;
      await session.store.remove(hex);
      result.removed.push(hex);
      result.bytes += size;
    }
    if (result.removed.length === 0) return result;
    const gone = new Set(result.removed);
    result.patches = catalog.patches
      .filter((p) => ledger.observed[p.id]?.cached && p.files.some((f) => gone.has(f.sha256)))
      .map((p) => p.id);
    await markUncached(ledger, new Set(result.patches));
    session.logger.info(
      { blobs: result.removed.length, bytes: result.bytes, patchIds: result.patches },
      'cache pruned of installed and superseded patches',
    );
  } catch (err) {
    session.logger.warn({ err: errorMessage(err), cache: session.paths.cache }, 'cache prune failed');
  }
  return result;
}

async function blobSize(session: Session, hex: string): Promise<number | null> {
  try {
    const info = await stat(session.store.blobPath(hex));
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

/** The observed `cached` flag of pruned patches becomes false (states and `since` unchanged). */
async function markUncached(ledger: Ledger, ids: ReadonlySet<string>): Promise<void> {
  if (ids.size === 0) return;
  const states = Object.entries(ledger.observed).map(([id, o]) => ({
    id,
    state: o.state,
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
    ...(ids.has(id) ? { cached: false } : o.cached !== undefined ? { cached: o.cached } : {}),
  }));
  if (ledger.observe(states)) await ledger.save();
}
