// Mail on syncs, from outside the sync engine: when a sync publishes a catalog, tells the
// notifier which patch ids the previous catalog did not have. (src/sync stays unaware of mail.)
import type { SyncObservers } from '../mirror.js';
import { newPatches } from './events.js';
import type { Notifier } from './notifier.js';

/** Subscribe `notifier` to the syncs of a mirror; returns the unsubscribe. */
export function observeSyncs(syncs: SyncObservers, notifier: Notifier): () => void {
  if (!notifier.enabled) return () => undefined;
  return syncs.on('sync:end', ({ report, before, after }) => {
    if (after === null || after === before || after.sequence === before?.sequence) return;
    notifier.onSyncFinished(report, newPatches(before?.catalog, after.catalog), after.sequence);
  });
}
