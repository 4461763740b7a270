// A host's snapshot in an ingest transaction (SQLite): its clients row and patch states,
// written only where they differ from what is stored. A host re-reporting the same states
// moves its row's times and last report, and writes nothing in client_patches: the states
// are read in one statement and compared here, rather than upserted one by one.
import type Database from 'better-sqlite3';
import { ErrorCodes, PatchbayError, type ClientReport } from '@patchbay/core';
import type { HostCounts } from '../fleet-read.js';
import { lastReportText, reportProfile } from '../stored-rows.js';
import type { ReportOrigin, StoredPatch } from '../types.js';
import type { ClientRow, PatchRow } from './client-rows.js';

/** The columns of `clients` a report sets besides its times and its JSON. */
type ProfileColumns = Pick<
  ClientRow,
  | 'hostname'
  | 'platform'
  | 'daemonVersion'
  | 'products'
  | 'pendingReboot'
  | 'via'
  | 'viaPath'
  | 'viaKeys'
  | keyof HostCounts
>;

const PROFILE_KEYS = [
  'hostname',
  'platform',
  'daemonVersion',
  'products',
  'pendingReboot',
  'via',
  'viaPath',
  'viaKeys',
  // the host's counters (migrations.ts version 6): its patch rows are the report's once written
  'installed',
  'failed',
  'missing',
  'superseded',
] as const satisfies readonly (keyof ProfileColumns)[];

/** What ingest reads of a host's row before it writes: the snapshot's time, its profile, its instance. */
export type StoredClient = ProfileColumns & Pick<ClientRow, 'reportedAt' | 'lastSeenAt' | 'instanceId'>;

type PatchValues = [string, string, string, string | null, string | null, number | null];

export interface SnapshotStatements {
  storedClient: Database.Statement<[string], StoredClient>;
  insertClient: Database.Statement<[Record<string, unknown>]>;
  updateClient: Database.Statement<[Record<string, unknown>]>;
  moveClient: Database.Statement<[string, string, string, string]>;
  touchClient: Database.Statement<[string, string]>;
  storedPatches: Database.Statement<[string], PatchRow>;
  insertPatch: Database.Statement<PatchValues>;
  updatePatch: Database.Statement<[string, string | null, string | null, number | null, string, string]>;
  deletePatch: Database.Statement<[string, string]>;
}

export function prepareSnapshotStatements(db: Database.Database): SnapshotStatements {
  return {
    storedClient: db.prepare<[string], StoredClient>(
      `SELECT reportedAt, lastSeenAt, instanceId, ${PROFILE_KEYS.join(', ')} FROM clients WHERE hostId = ?`,
    ),
    insertClient: db.prepare(
      `INSERT INTO clients (hostId, lastSeenAt, reportedAt, lastReport, ${PROFILE_KEYS.join(', ')})
       VALUES (@hostId, @lastSeenAt, @reportedAt, @lastReport, ${PROFILE_KEYS.map((k) => `@${k}`).join(', ')})`,
    ),
    updateClient: db.prepare(
      `UPDATE clients SET lastSeenAt = @lastSeenAt, reportedAt = @reportedAt, lastReport = @lastReport,
         ${PROFILE_KEYS.map((k) => `${k} = @${k}`).join(', ')} WHERE hostId = @hostId`,
    ),
    // The profile unchanged: its columns (and the indexes on them) are left alone.
    moveClient: db.prepare<[string, string, string, string]>(
      'UPDATE clients SET lastSeenAt = ?, reportedAt = ?, lastReport = ? WHERE hostId = ?',
    ),
    touchClient: db.prepare<[string, string]>('UPDATE clients SET lastSeenAt = ? WHERE hostId = ?'),
    storedPatches: db.prepare<[string], PatchRow>(
      'SELECT patchId AS id, state, since, reason, cached FROM client_patches WHERE hostId = ?',
    ),
    insertPatch: db.prepare<PatchValues>(
      'INSERT INTO client_patches (hostId, patchId, state, since, reason, cached) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    updatePatch: db.prepare<[string, string | null, string | null, number | null, string, string]>(
      'UPDATE client_patches SET state = ?, since = ?, reason = ?, cached = ? WHERE hostId = ? AND patchId = ?',
    ),
    deletePatch: db.prepare<[string, string]>('DELETE FROM client_patches WHERE hostId = ? AND patchId = ?'),
  };
}

/** 1 / 0 for a boolean the client sent, null when it sent none (or something else). */
function cachedFlag(value: unknown): number | null {
  return typeof value === 'boolean' ? Number(value) : null;
}

/** A patch state as its row holds it. */
function patchRow(patch: StoredPatch): PatchRow {
  return {
    id: patch.id,
    state: patch.state,
    since: patch.since ?? null,
    reason: patch.reason ?? null,
    cached: cachedFlag(patch.cached),
  };
}

function samePatchRow(a: PatchRow, b: PatchRow): boolean {
  return a.state === b.state && a.since === b.since && a.reason === b.reason && a.cached === b.cached;
}

function profileOf(report: ClientReport, origin: ReportOrigin | null): ProfileColumns {
  const profile = reportProfile(report, origin);
  return { ...profile, pendingReboot: profile.pendingReboot ? 1 : 0 };
}

/** The report's patch rows; refused before anything is written when it names a patch twice. */
function patchRowsOf(report: ClientReport): Map<string, PatchRow> {
  const rows = new Map<string, PatchRow>();
  for (const patch of report.patches as StoredPatch[]) {
    // The (hostId, patchId) key refuses a twice-named patch, as in PostgreSQL: the stored state
    // would otherwise depend on which copy was written last.
    if (rows.has(patch.id))
      throw new PatchbayError(
        ErrorCodes.DATABASE,
        `the report of host "${report.hostId}" names patch "${patch.id}" twice`,
        { hostId: report.hostId, patchId: patch.id },
      );
    rows.set(patch.id, patchRow(patch));
  }
  return rows;
}

/**
 * Replace the host's snapshot (its row and patch states) with the report's, `stored` being
 * its row before (undefined for a host new to the store). `lastReport` is written whole, as a
 * fresh row would hold it: it carries the report's own time.
 */
export function replaceSnapshot(
  st: SnapshotStatements,
  report: ClientReport,
  receivedAt: string,
  origin: ReportOrigin | null,
  stored: StoredClient | undefined,
): void {
  const wanted = patchRowsOf(report);
  const lastReport = lastReportText(report);
  const profile = profileOf(report, origin);
  const times = { hostId: report.hostId, lastSeenAt: receivedAt, reportedAt: report.reportedAt, lastReport };
  if (stored === undefined) {
    st.insertClient.run({ ...times, ...profile });
    for (const row of wanted.values())
      st.insertPatch.run(report.hostId, row.id, row.state, row.since, row.reason, row.cached);
    return;
  }
  if (PROFILE_KEYS.every((key) => stored[key] === profile[key]))
    st.moveClient.run(receivedAt, report.reportedAt, lastReport, report.hostId);
  else st.updateClient.run({ ...times, ...profile });
  writeChangedPatches(st, report.hostId, wanted);
}

/** Delete the states the report no longer lists; insert or update those it changed; leave the rest. */
function writeChangedPatches(st: SnapshotStatements, hostId: string, wanted: Map<string, PatchRow>): void {
  const left = new Map(wanted);
  for (const row of st.storedPatches.all(hostId)) {
    const next = left.get(row.id);
    left.delete(row.id);
    if (next === undefined) st.deletePatch.run(hostId, row.id);
    else if (!samePatchRow(row, next))
      st.updatePatch.run(next.state, next.since, next.reason, next.cached, hostId, row.id);
  }
  for (const row of left.values())
    st.insertPatch.run(hostId, row.id, row.state, row.since, row.reason, row.cached);
}
