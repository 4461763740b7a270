// Counts syncs from outside the sync engine, as notify/sync-observer.ts watches them for
// mail: records each SyncReport as its sync ends (sync:end of the mirror's events).
import type { SyncObservers, SyncReport } from '../mirror.js';
import type { ServerMetrics, SyncOutcome } from './server-metrics.js';

/** The label of a finished sync: an ok sync that published nothing new is "unchanged". */
export function syncOutcome(report: SyncReport): SyncOutcome {
  if (report.outcome === 'ok') return report.published ? 'ok' : 'unchanged';
  // 'running' never ends a sync; were it to, it did not succeed.
  return report.outcome === 'partial' ? 'partial' : 'failed';
}

/** A finished sync that did not fail: the mirror serves what upstream offers (held-back patches aside). */
export function syncSucceeded(report: SyncReport): boolean {
  return report.finishedAt !== null && report.outcome !== 'failed' && report.outcome !== 'running';
}

/** Record one finished sync. */
export function recordSync(metrics: ServerMetrics, report: SyncReport): void {
  const outcome = syncOutcome(report);
  metrics.syncs.inc({ outcome });
  const started = Date.parse(report.startedAt);
  const finished = report.finishedAt === null ? Number.NaN : Date.parse(report.finishedAt);
  if (Number.isFinite(started) && Number.isFinite(finished) && finished >= started)
    metrics.syncDuration.observe({ outcome }, (finished - started) / 1000);
  metrics.syncFetchedBytes.inc(report.bytesFetched);
  metrics.syncFetchedFiles.inc(report.filesFetched);
  noteSyncSuccess(metrics, report);
}

/** Move the last-success time forward when `report` is a later success (never back). */
export function noteSyncSuccess(metrics: ServerMetrics, report: SyncReport | null): void {
  if (report === null || !syncSucceeded(report) || report.finishedAt === null) return;
  const finished = Date.parse(report.finishedAt);
  if (Number.isFinite(finished) && finished > metrics.syncState.lastSuccessAt)
    metrics.syncState.lastSuccessAt = finished;
}

/** Count every sync of a mirror in `metrics`; returns the unsubscribe. */
export function observeSyncMetrics(syncs: SyncObservers, metrics: ServerMetrics): () => void {
  return syncs.on('sync:end', ({ report }) => recordSync(metrics, report));
}
