// Client reports, patch-state snapshots and the event history, in SQLite via
// better-sqlite3 (synchronous, prepared statements, one writer). Why SQLite rather
// than the keyv store the sync side uses: see docs/http-api.md "Why SQLite for reports".
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ClientReport, PatchState, ReportPatch } from '@patchbay/core';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import {
  MISSING_STATES,
  type ClientDetail,
  type ClientSummary,
  type HistoryQuery,
  type HostProfileRow,
  type IngestResult,
  type StoredEvent,
} from './types.js';

export const REPORTS_FILE = 'reports.sqlite';
const RECENT_EVENTS_PER_CLIENT = 50;

interface ClientRow {
  hostId: string;
  hostname: string;
  platform: string;
  daemonVersion: string;
  products: string;
  lastSeenAt: string;
  reportedAt: string;
  lastReport: string;
  pendingReboot: number;
}

const MISSING_SQL = MISSING_STATES.map((s) => `'${s}'`).join(', ');

export class ReportStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly historyStatements = new Map<string, Database.Statement>();
  private readonly statements;
  private readonly ingestTransaction: (report: ClientReport, receivedAt: string) => IngestResult;

  private constructor(file: string) {
    this.file = file;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a commit survives a process crash; an OS crash may lose the last
    // commits, which clients resend (their outbox keeps a report until it is accepted).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA_SQL);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);

    const db = this.db;
    this.statements = {
      snapshotTime: db.prepare<[string], { reportedAt: string }>(
        'SELECT reportedAt FROM clients WHERE hostId = ?',
      ),
      upsertClient: db.prepare(
        `INSERT INTO clients (hostId, hostname, platform, daemonVersion, products, lastSeenAt, reportedAt, lastReport, pendingReboot)
         VALUES (@hostId, @hostname, @platform, @daemonVersion, @products, @lastSeenAt, @reportedAt, @lastReport, @pendingReboot)
         ON CONFLICT (hostId) DO UPDATE SET hostname = excluded.hostname, platform = excluded.platform,
           daemonVersion = excluded.daemonVersion, products = excluded.products, lastSeenAt = excluded.lastSeenAt,
           reportedAt = excluded.reportedAt, lastReport = excluded.lastReport, pendingReboot = excluded.pendingReboot`,
      ),
      touchClient: db.prepare('UPDATE clients SET lastSeenAt = ? WHERE hostId = ?'),
      deletePatches: db.prepare('DELETE FROM client_patches WHERE hostId = ?'),
      insertPatch: db.prepare(
        'INSERT INTO client_patches (hostId, patchId, state, since, reason) VALUES (?, ?, ?, ?, ?)',
      ),
      insertEvent: db.prepare(
        `INSERT INTO events (hostId, seq, type, patchId, at, outcome, message, receivedAt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hostId, seq) DO NOTHING`,
      ),
      clientSummaries: db.prepare<[], ClientRow & { installed: number; failed: number; missing: number }>(
        `SELECT c.*, COALESCE(SUM(p.state = 'installed'), 0) AS installed,
                COALESCE(SUM(p.state = 'failed'), 0) AS failed,
                COALESCE(SUM(p.state IN (${MISSING_SQL})), 0) AS missing
         FROM clients c LEFT JOIN client_patches p ON p.hostId = c.hostId
         GROUP BY c.hostId ORDER BY c.hostId`,
      ),
      client: db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE hostId = ?'),
      clientPatches: db.prepare<
        [string],
        { id: string; state: PatchState; since: string | null; reason: string | null }
      >('SELECT patchId AS id, state, since, reason FROM client_patches WHERE hostId = ? ORDER BY patchId'),
      recentEvents: db.prepare<[string, number], StoredEvent>(
        'SELECT * FROM events WHERE hostId = ? ORDER BY at DESC, id DESC LIMIT ?',
      ),
      eventCursor: db.prepare<[number], { at: string; id: number }>('SELECT at, id FROM events WHERE id = ?'),
      countClients: db.prepare<[], { total: number }>('SELECT COUNT(*) AS total FROM clients'),
      countStale: db.prepare<[string], { stale: number }>(
        'SELECT COUNT(*) AS stale FROM clients WHERE lastSeenAt < ?',
      ),
      hostProfiles: db.prepare<[], { hostId: string; platform: string; products: string }>(
        'SELECT hostId, platform, products FROM clients ORDER BY hostId',
      ),
      statesOfPatch: db.prepare<[string], { hostId: string; state: PatchState }>(
        'SELECT hostId, state FROM client_patches WHERE patchId = ?',
      ),
    };

    this.ingestTransaction = db.transaction((report: ClientReport, receivedAt: string): IngestResult => {
      const st = this.statements;
      const stored = st.snapshotTime.get(report.hostId);
      // A report queued in a client's outbox may arrive after a newer one: its events
      // still count, but it must not roll the host's snapshot back.
      const snapshotReplaced = stored === undefined || stored.reportedAt <= report.reportedAt;
      if (snapshotReplaced) {
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
        });
        st.deletePatches.run(report.hostId);
        for (const patch of report.patches as StoredPatch[]) {
          st.insertPatch.run(report.hostId, patch.id, patch.state, patch.since ?? null, patch.reason ?? null);
        }
      } else {
        st.touchClient.run(receivedAt, report.hostId);
      }
      let accepted = 0;
      for (const event of report.events) {
        const result = st.insertEvent.run(
          report.hostId,
          event.seq,
          event.type,
          event.patchId ?? null,
          event.at,
          event.outcome,
          event.message ?? '',
          receivedAt,
        );
        accepted += result.changes;
      }
      return { accepted, snapshotReplaced };
    });
  }

  /** Open (creating when needed) `<dataDir>/reports.sqlite`. */
  static open(dataDir: string): ReportStore {
    mkdirSync(dataDir, { recursive: true });
    return new ReportStore(path.join(dataDir, REPORTS_FILE));
  }

  /**
   * Store a validated, normalised report in one transaction: the snapshot and last
   * report are replaced, events are added once per (hostId, seq). All or nothing.
   */
  ingest(report: ClientReport, receivedAt = new Date().toISOString()): IngestResult {
    return this.ingestTransaction(report, receivedAt);
  }

  /** Many reports in one transaction (bulk loads, the history benchmark). */
  ingestMany(reports: readonly ClientReport[], receivedAt = new Date().toISOString()): number {
    return this.db.transaction(() => {
      let accepted = 0;
      for (const report of reports) accepted += this.ingestTransaction(report, receivedAt).accepted;
      return accepted;
    })();
  }

  listClients(): ClientSummary[] {
    return this.statements.clientSummaries.all().map((row) => ({
      ...summaryFields(row),
      installed: row.installed,
      missing: row.missing,
      failed: row.failed,
    }));
  }

  getClient(hostId: string): ClientDetail | null {
    const row = this.statements.client.get(hostId);
    if (row === undefined) return null;
    return {
      ...summaryFields(row),
      reportedAt: row.reportedAt,
      lastReport: JSON.parse(row.lastReport) as ClientDetail['lastReport'],
      patches: this.statements.clientPatches.all(hostId).map(dropNulls),
      events: this.statements.recentEvents.all(hostId, RECENT_EVENTS_PER_CLIENT),
    };
  }

  /** Clients in total, and those not heard from since `staleBefore` (ISO instant). */
  countClients(staleBefore: string): { total: number; stale: number } {
    return {
      total: this.statements.countClients.get()?.total ?? 0,
      stale: this.statements.countStale.get(staleBefore)?.stale ?? 0,
    };
  }

  hostProfiles(): HostProfileRow[] {
    return this.statements.hostProfiles.all().map((row) => ({
      hostId: row.hostId,
      platform: row.platform,
      products: JSON.parse(row.products) as HostProfileRow['products'],
    }));
  }

  /** hostId → reported state, for one patch (served by client_patches_by_patch). */
  statesOfPatch(patchId: string): Map<string, PatchState> {
    const states = new Map<string, PatchState>();
    for (const row of this.statements.statesOfPatch.iterate(patchId)) states.set(row.hostId, row.state);
    return states;
  }

  /** The (at, id) position of an event, for a `before` cursor; null when no such event. */
  eventCursor(id: number): { at: string; id: number } | null {
    return this.statements.eventCursor.get(id) ?? null;
  }

  /** Events matching the filters, newest first. */
  history(query: HistoryQuery): StoredEvent[] {
    const { sql, params } = historySql(query);
    let statement = this.historyStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.historyStatements.set(sql, statement);
    }
    return statement.all(...params) as StoredEvent[];
  }

  /** The plan SQLite chooses for a history query (the index evidence in the tests). */
  explainHistory(query: HistoryQuery): string[] {
    const { sql, params } = historySql(query);
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
      (row) => row.detail,
    );
  }

  close(): void {
    if (!this.db.open) return;
    // Refresh the planner's statistics so that combined filters (host + type) pick
    // the most selective index; cheap, and a no-op when nothing changed much.
    this.db.pragma('optimize');
    this.db.close();
  }
}

/** Build the history SELECT: only the filters given, so SQLite can pick the index for them. */
export function historySql(query: HistoryQuery): { sql: string; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.host !== undefined) {
    where.push('hostId = ?');
    params.push(query.host);
  }
  if (query.patch !== undefined) {
    where.push('patchId = ?');
    params.push(query.patch);
  }
  if (query.type !== undefined) {
    where.push('type = ?');
    params.push(query.type);
  }
  if (query.since !== undefined) {
    where.push('at >= ?');
    params.push(query.since);
  }
  if (query.before !== undefined) {
    where.push('(at, id) < (?, ?)');
    params.push(query.before.at, query.before.id);
  }
  params.push(query.limit);
  const sql =
    'SELECT id, hostId, seq, type, patchId, at, outcome, message, receivedAt FROM events' +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ' ORDER BY at DESC, id DESC LIMIT ?';
  return { sql, params };
}

/** A reported patch as the client may send it (since and reason are optional). */
type StoredPatch = Omit<ReportPatch, 'since'> & { since?: string; reason?: string };

function dropNulls(row: {
  id: string;
  state: PatchState;
  since: string | null;
  reason: string | null;
}): StoredPatch {
  const patch: StoredPatch = { id: row.id, state: row.state };
  if (row.since !== null) patch.since = row.since;
  if (row.reason !== null) patch.reason = row.reason;
  return patch;
}

function summaryFields(row: ClientRow): Omit<ClientSummary, 'installed' | 'missing' | 'failed'> {
  return {
    hostId: row.hostId,
    hostname: row.hostname,
    platform: row.platform,
    daemonVersion: row.daemonVersion,
    lastSeenAt: row.lastSeenAt,
    products: JSON.parse(row.products) as ClientSummary['products'],
    pendingReboot: row.pendingReboot === 1,
  };
}
