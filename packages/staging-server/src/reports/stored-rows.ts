// What both report stores (sqlite/, postgres/) build the same way from what they read or wrote.
import type { PatchState, ReportEvent } from '@patchbay/core';
import type { EventConflict, IngestResult, NewInstance, StoredPatch } from './types.js';

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
