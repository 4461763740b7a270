// Storing a client report: the host's snapshot (unless the report is older than the one
// stored; written where it differs, snapshot.ts), its client instance, its events once per
// (hostId, instanceId, seq). One transaction a report; reports that arrive together share a
// commit (ingestSoon).
import { ingestResult } from '../stored-rows.js';
import type Database from 'better-sqlite3';
import type { ClientReport, ReportEvent } from '@patchbay/core';
import type { ReportIngest, ReportStoreOptions } from '../report-store-api.js';
import type { EventConflict, IngestResult, InstanceRow, NewInstance, ReportOrigin } from '../types.js';
import { INSTANCES_OF_HOST } from './client-rows.js';
import { prepareSnapshotStatements, replaceSnapshot } from './snapshot.js';

/** Most reports one shared commit takes (ingestSoon): bounds how long the first one waits. */
const INGEST_BATCH = 256;

/** What an event says; two events under one key that differ in any of it conflict. */
type EventContent = EventConflict['stored'];

function sameEvent(a: EventContent, b: EventContent): boolean {
  return (
    a.type === b.type &&
    a.patchId === b.patchId &&
    a.at === b.at &&
    a.outcome === b.outcome &&
    a.message === b.message &&
    a.output === b.output
  );
}

/** One report in a transaction of its own (a savepoint when called inside another). */
export type IngestOne = (
  report: ClientReport,
  receivedAt: string,
  origin: ReportOrigin | null,
) => IngestResult;

export interface SqliteIngest extends ReportIngest {
  ingestOne: IngestOne;
  /** Store the reports waiting for their shared commit now (at close: stored, not dropped). */
  flushPending(): void;
}

interface PendingIngest {
  report: ClientReport;
  origin: ReportOrigin | null;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

function prepareStatements(db: Database.Database) {
  return {
    ...prepareSnapshotStatements(db),
    insertEvent: db.prepare(
      `INSERT INTO events (hostId, instanceId, seq, type, patchId, at, outcome, message, output, receivedAt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hostId, instanceId, seq) DO NOTHING`,
    ),
    // A resend's stored twin, to tell a true resend from a different event under the same key.
    storedEvent: db.prepare<[string, string, number], EventContent>(
      `SELECT type, patchId, at, outcome, message, output FROM events
       WHERE hostId = ? AND instanceId = ? AND seq = ?`,
    ),
    // Whether the host ever sent events without an instance id: only then can one be a resend.
    hasLegacyEvents: db
      .prepare<[string], number>("SELECT 1 FROM events WHERE hostId = ? AND instanceId = '' LIMIT 1")
      .pluck(),
    instancesOf: db.prepare<[string], InstanceRow>(INSTANCES_OF_HOST),
    touchInstance: db.prepare<[string, string, string]>(
      'UPDATE client_instances SET lastSeenAt = ? WHERE hostId = ? AND instanceId = ?',
    ),
    insertInstance: db.prepare<[string, string, string, string]>(
      'INSERT INTO client_instances (hostId, instanceId, firstSeenAt, lastSeenAt) VALUES (?, ?, ?, ?)',
    ),
    setInstance: db.prepare('UPDATE clients SET instanceId = ? WHERE hostId = ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * Record the client instance a report names. Returns the instance when this host id had
 * not reported from it before, with the host's other instances (and whether the host
 * reported at all before), so the caller can say so. `current`: the report is the host's
 * snapshot; `stored`: the instance its row named before.
 */
function noteInstance(
  st: Statements,
  report: ClientReport,
  receivedAt: string,
  knownHost: boolean,
  current: boolean,
  stored: string | null,
): NewInstance | undefined {
  const instanceId = report.instanceId;
  if (instanceId === undefined) return undefined;
  // an outbox report of an earlier instance arriving late does not make it current again
  if (current && stored !== instanceId) st.setInstance.run(instanceId, report.hostId);
  // The common case, an instance already known, costs one statement.
  if (st.touchInstance.run(receivedAt, report.hostId, instanceId).changes > 0) return undefined;
  const before = st.instancesOf.all(report.hostId);
  st.insertInstance.run(report.hostId, instanceId, receivedAt, receivedAt);
  return { instanceId, previous: before.map((i) => i.instanceId), knownHost };
}

/** Add the report's events once per key: those newly stored, and those whose key holds another event. */
function addEvents(
  st: Statements,
  report: ClientReport,
  receivedAt: string,
): { newEvents: ReportEvent[]; conflicts: EventConflict[] } {
  const newEvents: ReportEvent[] = [];
  const conflicts: EventConflict[] = [];
  let legacy: boolean | undefined;
  for (const event of report.events) {
    // Per-event instanceId: a rollup forwards events of a host's earlier instances too.
    const instanceId = event.instanceId ?? report.instanceId ?? '';
    const content: EventContent = {
      type: event.type,
      patchId: event.patchId ?? null,
      at: event.at,
      outcome: event.outcome,
      message: event.message ?? '',
      output: event.output ?? null,
    };
    // A daemon upgraded to instance ids resends its unacknowledged outbox under its new
    // id: an identical event the host sent before without one is that resend, not news.
    if (instanceId !== '' && (legacy ??= st.hasLegacyEvents.get(report.hostId) !== undefined)) {
      const twin = st.storedEvent.get(report.hostId, '', event.seq);
      if (twin !== undefined && sameEvent(twin, content)) continue;
    }
    const result = st.insertEvent.run(
      report.hostId,
      instanceId,
      event.seq,
      content.type,
      content.patchId,
      content.at,
      content.outcome,
      content.message,
      content.output,
      receivedAt,
    );
    if (result.changes > 0) {
      newEvents.push(event);
      continue;
    }
    // Not stored: a resend, unless the stored event under this key says something else.
    const twin = st.storedEvent.get(report.hostId, instanceId, event.seq);
    if (twin !== undefined && !sameEvent(twin, content))
      conflicts.push({ seq: event.seq, instanceId, stored: twin, sent: content });
  }
  return { newEvents, conflicts };
}

export function sqliteIngest(db: Database.Database, options: ReportStoreOptions): SqliteIngest {
  const skewMs = (options.maxClockSkewSeconds ?? 300) * 1000;
  const st = prepareStatements(db);
  /** bumped by every ingest (see `revision`) */
  let writes = 0;
  const pending: PendingIngest[] = [];

  /** One report inside a transaction the caller holds. */
  const ingestInTransaction: IngestOne = (report, receivedAt, origin) => {
    writes++;
    const stored = st.storedClient.get(report.hostId);
    // A report queued in a client's outbox may arrive after a newer one: its events
    // still count, but it must not roll the host's snapshot back. A stored reportedAt
    // beyond its own arrival plus the skew window (stored before ingest refused such
    // times, or by a clock gone wrong) is no order at all: arrival decides then.
    const snapshotReplaced =
      stored === undefined ||
      stored.reportedAt <= report.reportedAt ||
      Date.parse(stored.reportedAt) > Date.parse(stored.lastSeenAt) + skewMs;
    if (snapshotReplaced) replaceSnapshot(st, report, receivedAt, origin, stored);
    else st.touchClient.run(receivedAt, report.hostId);
    const newInstance = noteInstance(
      st,
      report,
      receivedAt,
      stored !== undefined,
      snapshotReplaced,
      stored?.instanceId ?? null,
    );
    const { newEvents, conflicts } = addEvents(st, report, receivedAt);
    return ingestResult(newEvents, snapshotReplaced, conflicts, newInstance);
  };
  const ingestOne: IngestOne = db.transaction(ingestInTransaction);

  /** The batch in one transaction, each report in a savepoint of its own: one that fails fails alone. */
  const ingestEachAlone = db.transaction((batch: PendingIngest[], receivedAt: string) =>
    batch.map((item): IngestResult | { error: unknown } => {
      try {
        // A nested better-sqlite3 transaction is a savepoint: a failure undoes this report only.
        return ingestOne(item.report, receivedAt, item.origin);
      } catch (error) {
        return { error };
      }
    }),
  );

  // A failing report is rare (one the schema let through but SQLite refuses), so a batch is
  // first stored with no savepoint per report; when one fails, the batch is undone and stored
  // again a savepoint each. At fleet scale the commit is a large part of a report's cost.
  const ingestTogether = db.transaction((batch: PendingIngest[], receivedAt: string) =>
    batch.map((item) => ingestInTransaction(item.report, receivedAt, item.origin)),
  );

  function storeBatch(batch: PendingIngest[], receivedAt: string): (IngestResult | { error: unknown })[] {
    try {
      return ingestTogether(batch, receivedAt);
    } catch {
      return ingestEachAlone(batch, receivedAt);
    }
  }

  function flushPending(): void {
    while (pending.length > 0) {
      const batch = pending.splice(0, INGEST_BATCH);
      let outcomes: (IngestResult | { error: unknown })[];
      try {
        outcomes = storeBatch(batch, new Date().toISOString());
      } catch (error) {
        for (const item of batch) item.reject(error);
        continue;
      }
      batch.forEach((item, i) => {
        const outcome = outcomes[i]!;
        if ('error' in outcome) item.reject(outcome.error);
        else item.resolve(outcome);
      });
    }
  }

  return {
    ingestOne,
    flushPending,
    revision: async () => writes,
    ingest: async (report, receivedAt = new Date().toISOString(), origin = null) =>
      ingestOne(report, receivedAt, origin),
    // Reports that arrive while the event loop is busy are stored together at its next turn.
    ingestSoon: (report, origin = null) =>
      new Promise((resolve, reject) => {
        pending.push({ report, origin, resolve, reject });
        if (pending.length === 1) setImmediate(flushPending);
      }),
    ingestMany: async (reports, receivedAt = new Date().toISOString()) =>
      db.transaction(() => {
        let accepted = 0;
        for (const report of reports) accepted += ingestInTransaction(report, receivedAt, null).accepted;
        return accepted;
      })(),
  };
}
