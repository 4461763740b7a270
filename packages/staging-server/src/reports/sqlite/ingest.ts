// Storing a client report: the host's snapshot (unless the report is older than the one
// stored), its client instance, its events once per (hostId, instanceId, seq). One
// transaction a report; reports that arrive together share a commit (ingestSoon).
import { ingestResult } from '../stored-rows.js';
import type Database from 'better-sqlite3';
import { ErrorCodes, PatchbayError, type ClientReport, type ReportEvent } from '@patchbay/core';
import type { ReportIngest, ReportStoreOptions } from '../report-store-api.js';
import type {
  EventConflict,
  IngestResult,
  InstanceRow,
  NewInstance,
  ReportOrigin,
  StoredPatch,
} from '../types.js';
import { hostCounts } from '../fleet-read.js';
import { INSTANCES_OF_HOST } from './client-rows.js';

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

/** 1 / 0 for a boolean the client sent, null when it sent none (or something else). */
function cachedFlag(value: unknown): number | null {
  return typeof value === 'boolean' ? Number(value) : null;
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
    snapshotTime: db.prepare<[string], { reportedAt: string; lastSeenAt: string }>(
      'SELECT reportedAt, lastSeenAt FROM clients WHERE hostId = ?',
    ),
    upsertClient: db.prepare(
      `INSERT INTO clients (hostId, hostname, platform, daemonVersion, products, lastSeenAt, reportedAt, lastReport, pendingReboot, via, viaPath, viaKeys, installed, failed, missing, superseded)
       VALUES (@hostId, @hostname, @platform, @daemonVersion, @products, @lastSeenAt, @reportedAt, @lastReport, @pendingReboot, @via, @viaPath, @viaKeys, @installed, @failed, @missing, @superseded)
       ON CONFLICT (hostId) DO UPDATE SET hostname = excluded.hostname, platform = excluded.platform,
         daemonVersion = excluded.daemonVersion, products = excluded.products, lastSeenAt = excluded.lastSeenAt,
         reportedAt = excluded.reportedAt, lastReport = excluded.lastReport, pendingReboot = excluded.pendingReboot,
         via = excluded.via, viaPath = excluded.viaPath, viaKeys = excluded.viaKeys, installed = excluded.installed,
         failed = excluded.failed, missing = excluded.missing, superseded = excluded.superseded`,
    ),
    touchClient: db.prepare('UPDATE clients SET lastSeenAt = ? WHERE hostId = ?'),
    // Rows that went away are deleted, the others written only where they differ, so a host
    // re-reporting the same states costs its clients row and nothing in client_patches.
    deleteGonePatches: db.prepare(
      'DELETE FROM client_patches WHERE hostId = ? AND patchId NOT IN (SELECT value FROM json_each(?))',
    ),
    upsertPatch: db.prepare(
      `INSERT INTO client_patches AS p (hostId, patchId, state, since, reason, cached) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (hostId, patchId) DO UPDATE SET state = excluded.state, since = excluded.since,
         reason = excluded.reason, cached = excluded.cached
       WHERE (p.state, p.since, p.reason, p.cached) IS NOT (excluded.state, excluded.since, excluded.reason, excluded.cached)`,
    ),
    insertEvent: db.prepare(
      `INSERT INTO events (hostId, instanceId, seq, type, patchId, at, outcome, message, output, receivedAt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hostId, instanceId, seq) DO NOTHING`,
    ),
    // A resend's stored twin, to tell a true resend from a different event under the same key.
    storedEvent: db.prepare<[string, string, number], EventContent>(
      `SELECT type, patchId, at, outcome, message, output FROM events
       WHERE hostId = ? AND instanceId = ? AND seq = ?`,
    ),
    instancesOf: db.prepare<[string], InstanceRow>(INSTANCES_OF_HOST),
    upsertInstance: db.prepare(
      `INSERT INTO client_instances (hostId, instanceId, firstSeenAt, lastSeenAt) VALUES (?, ?, ?, ?)
       ON CONFLICT (hostId, instanceId) DO UPDATE SET lastSeenAt = excluded.lastSeenAt`,
    ),
    setInstance: db.prepare('UPDATE clients SET instanceId = ? WHERE hostId = ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** Replace the host's snapshot (its row and patch states) with the report's. */
function replaceSnapshot(
  st: Statements,
  report: ClientReport,
  receivedAt: string,
  origin: ReportOrigin | null,
): void {
  const { events: _events, ...withoutEvents } = report;
  st.upsertClient.run({
    hostId: report.hostId,
    // Only hostId, reportedAt, patches and events are required by REPORT_SCHEMA.
    hostname: report.hostname ?? report.hostId,
    platform: report.platform ?? '',
    daemonVersion: report.daemonVersion ?? '',
    products: JSON.stringify(report.products ?? []),
    lastSeenAt: receivedAt,
    reportedAt: report.reportedAt,
    lastReport: JSON.stringify(withoutEvents),
    pendingReboot: report.pendingReboot ? 1 : 0,
    // A report the host sent itself clears a branch binding: it now reports directly.
    via: origin?.path[0] ?? null,
    viaPath: origin ? JSON.stringify(origin.path) : null,
    viaKeys: origin ? JSON.stringify(origin.keys) : null,
    // the host's counters: its patch rows are the report's once they are written below
    ...hostCounts(report.patches),
  });
  const patches = report.patches as StoredPatch[];
  const ids = patches.map((p) => p.id);
  // An upsert would let the last of a twice-named patch win; the (hostId, patchId) key refuses it, as in PostgreSQL.
  if (new Set(ids).size !== ids.length)
    throw new PatchbayError(
      ErrorCodes.DATABASE,
      `the report of host "${report.hostId}" names a patch twice`,
      {
        hostId: report.hostId,
      },
    );
  st.deleteGonePatches.run(report.hostId, JSON.stringify(ids));
  for (const patch of patches) {
    st.upsertPatch.run(
      report.hostId,
      patch.id,
      patch.state,
      patch.since ?? null,
      patch.reason ?? null,
      cachedFlag(patch.cached),
    );
  }
}

/**
 * Record the client instance a report names. Returns the instance when this host id had
 * not reported from it before, with the host's other instances (and whether the host
 * reported at all before), so the caller can say so.
 */
function noteInstance(
  st: Statements,
  report: ClientReport,
  receivedAt: string,
  knownHost: boolean,
  current: boolean,
): NewInstance | undefined {
  const instanceId = report.instanceId;
  if (instanceId === undefined) return undefined;
  const before = st.instancesOf.all(report.hostId);
  st.upsertInstance.run(report.hostId, instanceId, receivedAt, receivedAt);
  // an outbox report of an earlier instance arriving late does not make it current again
  if (current) st.setInstance.run(instanceId, report.hostId);
  if (before.some((i) => i.instanceId === instanceId)) return undefined;
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
    if (instanceId !== '') {
      const legacy = st.storedEvent.get(report.hostId, '', event.seq);
      if (legacy !== undefined && sameEvent(legacy, content)) continue;
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

  const ingestOne: IngestOne = db.transaction(
    (report: ClientReport, receivedAt: string, origin: ReportOrigin | null): IngestResult => {
      writes++;
      const stored = st.snapshotTime.get(report.hostId);
      // A report queued in a client's outbox may arrive after a newer one: its events
      // still count, but it must not roll the host's snapshot back. A stored reportedAt
      // beyond its own arrival plus the skew window (stored before ingest refused such
      // times, or by a clock gone wrong) is no order at all: arrival decides then.
      const snapshotReplaced =
        stored === undefined ||
        stored.reportedAt <= report.reportedAt ||
        Date.parse(stored.reportedAt) > Date.parse(stored.lastSeenAt) + skewMs;
      if (snapshotReplaced) replaceSnapshot(st, report, receivedAt, origin);
      else st.touchClient.run(receivedAt, report.hostId);
      const newInstance = noteInstance(st, report, receivedAt, stored !== undefined, snapshotReplaced);
      const { newEvents, conflicts } = addEvents(st, report, receivedAt);
      return ingestResult(newEvents, snapshotReplaced, conflicts, newInstance);
    },
  );

  // Each item in a savepoint of its own, so one that fails fails alone. At fleet scale the
  // commit is half the cost of a report (docs/performance.md).
  function flushPending(): void {
    while (pending.length > 0) {
      const batch = pending.splice(0, INGEST_BATCH);
      const receivedAt = new Date().toISOString();
      const outcomes: (IngestResult | { error: unknown })[] = [];
      try {
        db.transaction(() => {
          for (const item of batch) {
            try {
              // A nested better-sqlite3 transaction is a savepoint: a failure undoes this report only.
              outcomes.push(ingestOne(item.report, receivedAt, item.origin));
            } catch (error) {
              outcomes.push({ error });
            }
          }
        })();
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
        for (const report of reports) accepted += ingestOne(report, receivedAt, null).accepted;
        return accepted;
      })(),
  };
}
