// What both report stores (sqlite/, postgres/) build the same way from what they read or wrote.
import type { ClientReport, PatchState, ReportEvent } from '@patchbay/core';
import { hostCounts, type HostCounts } from './fleet-read.js';
import type { EventConflict, IngestResult, NewInstance, ReportOrigin, StoredPatch } from './types.js';

/** A reported patch as stored, with only the fields the client sent. */
export function storedPatch(row: {
  id: string;
  state: PatchState;
  since: string | null;
  reason: string | null;
  cached: boolean | null;
}): StoredPatch {
  const patch: StoredPatch = { id: row.id, state: row.state };
  if (row.since !== null) patch.since = row.since;
  if (row.reason !== null) patch.reason = row.reason;
  if (row.cached !== null) patch.cached = row.cached;
  return patch;
}

/** An ingest's answer: the events newly stored, whether the snapshot moved, what conflicted. */
export function ingestResult(
  newEvents: ReportEvent[],
  snapshotReplaced: boolean,
  conflicts: EventConflict[],
  newInstance: NewInstance | undefined,
): IngestResult {
  const result: IngestResult = { accepted: newEvents.length, stored: newEvents, snapshotReplaced, conflicts };
  if (newInstance !== undefined) result.newInstance = newInstance;
  return result;
}

/** What a report sets in its host's row besides its times, as both stores write it. */
export interface ReportProfile extends HostCounts {
  hostname: string;
  platform: string;
  daemonVersion: string;
  /** JSON text */
  products: string;
  pendingReboot: boolean;
  via: string | null;
  /** JSON text */
  viaPath: string | null;
  /** JSON text */
  viaKeys: string | null;
}

export function reportProfile(report: ClientReport, origin: ReportOrigin | null): ReportProfile {
  return {
    // Only hostId, reportedAt, patches and events are required by REPORT_SCHEMA.
    hostname: report.hostname ?? report.hostId,
    platform: report.platform ?? '',
    daemonVersion: report.daemonVersion ?? '',
    products: JSON.stringify(report.products ?? []),
    pendingReboot: report.pendingReboot === true,
    // A report the host sent itself clears a branch binding: it now reports directly.
    via: origin?.path[0] ?? null,
    viaPath: origin ? JSON.stringify(origin.path) : null,
    viaKeys: origin ? JSON.stringify(origin.keys) : null,
    // its patch rows are the report's once its snapshot is replaced
    ...hostCounts(report.patches),
  };
}

/** The host's last report as its row keeps it: all but the events. */
export function lastReportText(report: ClientReport): string {
  const { events: _events, ...withoutEvents } = report;
  return JSON.stringify(withoutEvents);
}
