// Event retention (reports.retentionDays): the history keeps a bounded window so that
// reports.sqlite does not grow without bound. Only events are pruned — hosts and their
// current patch states stay, whatever their age. Run by the schedule.prune cron.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { EventHistory } from './report-store.js';

const DAY_MS = 86_400_000;

/** Rows per delete transaction: a few milliseconds each, so ingest waits no longer. */
export const PRUNE_BATCH_SIZE = 5_000;

/**
 * Delete events whose `at` is older than `now - retentionDays`, in batches of
 * PRUNE_BATCH_SIZE (each its own transaction). Resolves to the number deleted.
 */
export async function pruneExpiredEvents(
  store: EventHistory,
  retentionDays: number,
  now: Date = new Date(),
): Promise<number> {
  if (!Number.isFinite(retentionDays) || retentionDays <= 0)
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `reports.retentionDays must be a positive number of days, got ${String(retentionDays)}`,
      { retentionDays },
    );
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS).toISOString();
  return store.deleteEventsBefore(cutoff, PRUNE_BATCH_SIZE);
}
