// Which of a report's events the report store does not hold yet, so that a resent
// report mails nothing twice. Asked before ingest, through the store's public history.
// TODO(reports): ReportStore.ingest could return the newly stored events (or offer
// knownSeqs(hostId, seqs)); this would then be one lookup instead of one per event.
import type { ClientReport, ReportEvent } from '@patchbay/core';
import type { ReportStore } from '../reports/report-store.js';
import { isNotifiableEvent } from './events.js';

/** A host's events with one (type, patch) since one instant: few, so one page is plenty. */
const LOOKUP_LIMIT = 10_000;

/** The report's notifiable events whose (hostId, seq) is not stored yet; `report` is normalised. */
export function unstoredNotifiableEvents(store: ReportStore, report: ClientReport): ReportEvent[] {
  const candidates = report.events.filter(isNotifiableEvent);
  const seen = new Set<number>();
  return candidates.filter((event) => {
    if (seen.has(event.seq)) return false; // the same seq twice in one report is stored once
    seen.add(event.seq);
    const stored = store.history({
      host: report.hostId,
      type: event.type,
      ...(event.patchId !== undefined ? { patch: event.patchId } : {}),
      since: event.at,
      limit: LOOKUP_LIMIT,
    });
    return !stored.some((row) => row.seq === event.seq);
  });
}
