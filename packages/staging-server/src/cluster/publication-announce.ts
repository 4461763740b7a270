// What the leader announces to the followers (NOTIFY patchbay_published, publication-watch.ts):
// every write whose result they hold in memory and must reload — a sync's publication, a
// re-signed catalog or TUF roles, a refreshed TUF timestamp. Without the announcement a
// follower would see the last two only at its next check (cluster.leaderRetrySeconds).
import type { SyncObservers } from '../mirror.js';

/** Calls `announce` after each of the mirror's publications; returns the unsubscribe. */
export function announcePublications(events: SyncObservers, announce: () => void): () => void {
  const offSync = events.on('sync:end', ({ report }) => {
    if (report.published) announce();
  });
  const offRepublished = events.on('publication', () => announce());
  return () => {
    offSync();
    offRepublished();
  };
}
