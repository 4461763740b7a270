// The gauges read at scrape time from what /v1/status reads: the served catalog, the
// last sync, the blob store's figures (cached by gc) and the fleet by state (cached by
// fleet-states.ts). Nothing here runs between scrapes.
import type { MirrorService } from '../mirror.js';
import type { ClientStateCounts } from './fleet-states.js';
import type { ServerMetrics } from './server-metrics.js';
import { noteSyncSuccess } from './sync-metrics.js';

/** Unix seconds of an ISO instant; 0 when absent or unreadable. */
function unixSeconds(iso: string | null | undefined): number {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(ms) ? ms / 1000 : 0;
}

export async function refreshScrapeGauges(
  metrics: ServerMetrics,
  mirror: MirrorService,
  clientStates: ClientStateCounts,
): Promise<void> {
  const published = mirror.current();
  metrics.catalogSequence.set(published?.sequence ?? 0);
  metrics.catalogUpstreamSequence.set(published?.upstreamSequence ?? 0);
  metrics.catalogPatches.set(published?.catalog.patches.length ?? 0);
  metrics.catalogPublished.set(unixSeconds(published?.publishedAt));
  metrics.catalogExpiry.set(unixSeconds(published?.expiresAt));

  const last = mirror.lastSync();
  // The last sync survives restarts (state.sqlite): a success before this start counts.
  noteSyncSuccess(metrics, last);
  metrics.syncLastSuccess.set(metrics.syncState.lastSuccessAt / 1000);
  metrics.syncRunning.set(mirror.isSyncing() ? 1 : 0);
  // lastSync() is the running sync while one runs: keep the last finished one's figure then.
  if (last !== null && last.finishedAt !== null) metrics.syncHeldBack.set(last.heldBack.length);

  const storage = await mirror.storage();
  metrics.storeBlobs.set(storage.blobs);
  metrics.storeBytes.set(storage.bytes);
  metrics.storeReclaimableBytes.set(storage.reclaimableBytes);

  for (const [state, hosts] of Object.entries(await clientStates.get()))
    metrics.clients.set({ state }, hosts);
}
