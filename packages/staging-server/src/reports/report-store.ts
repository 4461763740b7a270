// Client reports, patch-state snapshots and the event history, in SQLite via
// better-sqlite3 (synchronous, prepared statements, one writer). Why SQLite rather
// than the keyv store the sync side uses: see docs/http-api.md "Why SQLite for reports".
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ClientReport, FeedPatch, PatchState, ReportEvent, ReportPatch } from '@patchbay/core';
import { ensurePrivateDirSync, preparePrivateDatabase } from '@patchbay/core';
import { migrate } from './migrations.js';
import {
  MISSING_STATES,
  type CachedPatchQuery,
  type CachedPatchRow,
  type ClientDetail,
  type ClientPage,
  type ClientSummary,
  type HistoryQuery,
  type HostProfileRow,
  type IngestResult,
  type PatchFacts,
  type BranchRow,
  type EventConflict,
  type InstanceRow,
  type NewInstance,
  type ReportOrigin,
  type RollupClientRow,
  type StoredEvent,
  type ViaFields,
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
  via: string | null;
  viaPath: string | null;
  viaKeys: string | null;
  instanceId: string | null;
}

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

export interface ReportStoreOptions {
  /**
   * reports.maxClockSkewSeconds (default 300): a stored reportedAt later than its own
   * arrival plus this came from a wrong clock and never holds the snapshot against a newer report
   */
  maxClockSkewSeconds?: number;
}

/** Most reports one shared commit takes (ingestSoon): bounds how long the first one waits. */
const INGEST_BATCH = 256;

interface PendingIngest {
  report: ClientReport;
  origin: ReportOrigin | null;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

const MISSING_SQL = MISSING_STATES.map((s) => `'${s}'`).join(', ');

export class ReportStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly historyStatements = new Map<string, Database.Statement>();
  /** bumped by every ingest (see `revision`) */
  private writes = 0;
  private readonly statements;
  private readonly ingestTransaction: (
    report: ClientReport,
    receivedAt: string,
    origin: ReportOrigin | null,
  ) => IngestResult;

  private constructor(file: string, options: ReportStoreOptions) {
    this.file = file;
    const skewMs = (options.maxClockSkewSeconds ?? 300) * 1000;
    preparePrivateDatabase(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a commit survives a process crash; an OS crash may lose the last
    // commits, which clients resend (their outbox keeps a report until it is accepted).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db, file);

    const db = this.db;
    this.statements = {
      snapshotTime: db.prepare<[string], { reportedAt: string; lastSeenAt: string }>(
        'SELECT reportedAt, lastSeenAt FROM clients WHERE hostId = ?',
      ),
      upsertClient: db.prepare(
        `INSERT INTO clients (hostId, hostname, platform, daemonVersion, products, lastSeenAt, reportedAt, lastReport, pendingReboot, via, viaPath, viaKeys)
         VALUES (@hostId, @hostname, @platform, @daemonVersion, @products, @lastSeenAt, @reportedAt, @lastReport, @pendingReboot, @via, @viaPath, @viaKeys)
         ON CONFLICT (hostId) DO UPDATE SET hostname = excluded.hostname, platform = excluded.platform,
           daemonVersion = excluded.daemonVersion, products = excluded.products, lastSeenAt = excluded.lastSeenAt,
           reportedAt = excluded.reportedAt, lastReport = excluded.lastReport, pendingReboot = excluded.pendingReboot,
           via = excluded.via, viaPath = excluded.viaPath, viaKeys = excluded.viaKeys`,
      ),
      touchClient: db.prepare('UPDATE clients SET lastSeenAt = ? WHERE hostId = ?'),
      // Tiered mirrors (report rollup): the hosts and events a branch forwards to its parent.
      originOf: db.prepare<[string], { via: string | null }>('SELECT via FROM clients WHERE hostId = ?'),
      rollupClients: db.prepare<[], ClientRow>('SELECT * FROM clients ORDER BY hostId'),
      eventsAfter: db.prepare<[number, number], StoredEvent>(
        'SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?',
      ),
      lastEventId: db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM events'),
      lastSeenMax: db.prepare<[], { at: string | null }>('SELECT MAX(lastSeenAt) AS at FROM clients'),
      viaOf: db.prepare<[string], { hostId: string; via: string }>(
        'SELECT hostId, via FROM clients WHERE via IS NOT NULL AND hostId IN (SELECT value FROM json_each(?))',
      ),
      upsertBranch: db.prepare(
        `INSERT INTO branches (branchId, mirror, lastRollupAt, hosts) VALUES (@branchId, @mirror, @lastRollupAt, @hosts)
         ON CONFLICT (branchId) DO UPDATE SET mirror = excluded.mirror, lastRollupAt = excluded.lastRollupAt,
           hosts = excluded.hosts`,
      ),
      branches: db.prepare<[], BranchRow>('SELECT * FROM branches ORDER BY branchId'),
      deletePatches: db.prepare('DELETE FROM client_patches WHERE hostId = ?'),
      insertPatch: db.prepare(
        'INSERT INTO client_patches (hostId, patchId, state, since, reason, cached) VALUES (?, ?, ?, ?, ?, ?)',
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
      instancesOf: db.prepare<[string], InstanceRow>(
        'SELECT instanceId, firstSeenAt, lastSeenAt FROM client_instances WHERE hostId = ? ORDER BY firstSeenAt DESC, instanceId',
      ),
      upsertInstance: db.prepare(
        `INSERT INTO client_instances (hostId, instanceId, firstSeenAt, lastSeenAt) VALUES (?, ?, ?, ?)
         ON CONFLICT (hostId, instanceId) DO UPDATE SET lastSeenAt = excluded.lastSeenAt`,
      ),
      setInstance: db.prepare('UPDATE clients SET instanceId = ? WHERE hostId = ?'),
      // One statement for the whole list and for a page: hostId > '' is every host and
      // LIMIT -1 is no limit. Walks the clients' primary key, so a page costs its size.
      clientSummaries: db.prepare<
        [string, number],
        ClientRow & { installed: number; failed: number; missing: number }
      >(
        `SELECT c.*, COALESCE(SUM(p.state = 'installed'), 0) AS installed,
                COALESCE(SUM(p.state = 'failed'), 0) AS failed,
                COALESCE(SUM(p.state IN (${MISSING_SQL})), 0) AS missing
         FROM clients c LEFT JOIN client_patches p ON p.hostId = c.hostId
         WHERE c.hostId > ?
         GROUP BY c.hostId ORDER BY c.hostId LIMIT ?`,
      ),
      client: db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE hostId = ?'),
      clientPatches: db.prepare<[string], PatchRow>(
        'SELECT patchId AS id, state, since, reason, cached FROM client_patches WHERE hostId = ? ORDER BY patchId',
      ),
      recentEvents: db.prepare<[string, number], StoredEvent>(
        'SELECT * FROM events WHERE hostId = ? ORDER BY at DESC, id DESC LIMIT ?',
      ),
      eventCursor: db.prepare<[number], { at: string; id: number }>('SELECT at, id FROM events WHERE id = ?'),
      countClients: db.prepare<[], { total: number }>('SELECT COUNT(*) AS total FROM clients'),
      countStale: db.prepare<[string], { stale: number }>(
        'SELECT COUNT(*) AS stale FROM clients WHERE lastSeenAt < ?',
      ),
      // The fleet by state for /metrics (metrics/fleet-states.ts), each host in the first that
      // applies; aggregated here, it costs a fifth of listClients() at 10,000 hosts.
      clientStates: db.prepare<[string], { state: string; hosts: number }>(
        `SELECT state, COUNT(*) AS hosts FROM (SELECT CASE
           WHEN c.lastSeenAt < ? THEN 'stale'
           WHEN EXISTS (SELECT 1 FROM client_patches p WHERE p.hostId = c.hostId AND p.state = 'failed') THEN 'failed'
           WHEN EXISTS (SELECT 1 FROM client_patches p WHERE p.hostId = c.hostId AND p.state IN (${MISSING_SQL}))
             THEN 'behind'
           WHEN c.pendingReboot = 1 THEN 'pending_reboot' ELSE 'compliant' END AS state
         FROM clients c) GROUP BY state`,
      ),
      hostProfiles: db.prepare<
        [],
        {
          hostId: string;
          hostname: string;
          lastSeenAt: string;
          platform: string;
          products: string;
          pendingReboot: number;
          via: string | null;
        }
      >(
        'SELECT hostId, hostname, lastSeenAt, platform, products, pendingReboot, via FROM clients ORDER BY hostId',
      ),
      statesOfPatch: db.prepare<[string], { hostId: string; state: PatchState }>(
        'SELECT hostId, state FROM client_patches WHERE patchId = ?',
      ),
      // Every reported state in one walk of the covering index (patchId, state, hostId).
      // Raw rows (arrays): a quarter million objects fewer at 10,000 hosts × 25 patches.
      allStates: db
        .prepare<[], [string, string, PatchState]>(
          'SELECT patchId, hostId, state FROM client_patches INDEXED BY client_patches_by_patch ORDER BY patchId',
        )
        .raw(),
      allHostnames: db.prepare<[], [string, string]>('SELECT hostId, hostname FROM clients').raw(),
      upsertPatchFacts: db.prepare(
        `INSERT INTO patch_facts (patchId, title, severity, product, release)
         VALUES (@id, @title, @severity, @product, @release)
         ON CONFLICT (patchId) DO UPDATE SET title = excluded.title, severity = excluded.severity,
           product = excluded.product, release = excluded.release
         WHERE (title, severity, product, release) IS NOT (excluded.title, excluded.severity, excluded.product, excluded.release)`,
      ),
      patchFacts: db.prepare<[], PatchFacts>(
        'SELECT patchId, title, severity, product, release FROM patch_facts',
      ),
      hostnames: db.prepare<[string], { hostId: string; hostname: string }>(
        'SELECT hostId, hostname FROM clients WHERE hostId IN (SELECT value FROM json_each(?))',
      ),
      // Oldest first through events_by_at: each batch is a short write transaction.
      deleteEventsBefore: db.prepare<[string, number]>(
        'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? ORDER BY at LIMIT ?)',
      ),
    };

    this.ingestTransaction = db.transaction(
      (report: ClientReport, receivedAt: string, origin: ReportOrigin | null): IngestResult => {
        this.writes++;
        const st = this.statements;
        const stored = st.snapshotTime.get(report.hostId);
        // A report queued in a client's outbox may arrive after a newer one: its events
        // still count, but it must not roll the host's snapshot back. A stored reportedAt
        // beyond its own arrival plus the skew window (stored before ingest refused such
        // times, or by a clock gone wrong) is no order at all: arrival decides then.
        const snapshotReplaced =
          stored === undefined ||
          stored.reportedAt <= report.reportedAt ||
          Date.parse(stored.reportedAt) > Date.parse(stored.lastSeenAt) + skewMs;
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
            // A report the host sent itself clears a branch binding: it now reports directly.
            via: origin?.path[0] ?? null,
            viaPath: origin ? JSON.stringify(origin.path) : null,
            viaKeys: origin ? JSON.stringify(origin.keys) : null,
          });
          st.deletePatches.run(report.hostId);
          for (const patch of report.patches as StoredPatch[]) {
            st.insertPatch.run(
              report.hostId,
              patch.id,
              patch.state,
              patch.since ?? null,
              patch.reason ?? null,
              cachedFlag(patch.cached),
            );
          }
        } else {
          st.touchClient.run(receivedAt, report.hostId);
        }
        const newInstance = this.noteInstance(report, receivedAt, stored !== undefined, snapshotReplaced);
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
        const result: IngestResult = {
          accepted: newEvents.length,
          stored: newEvents,
          snapshotReplaced,
          conflicts,
        };
        if (newInstance !== undefined) result.newInstance = newInstance;
        return result;
      },
    );
  }

  /**
   * Changes whenever a report may have changed hosts or their patch states (every ingest,
   * whatever its outcome), so a reader may keep what it derived from them until it moves.
   */
  get revision(): number {
    return this.writes;
  }

  /** Open (creating when needed) `<dataDir>/reports.sqlite`. */
  static open(dataDir: string, options: ReportStoreOptions = {}): ReportStore {
    ensurePrivateDirSync(dataDir);
    return new ReportStore(path.join(dataDir, REPORTS_FILE), options);
  }

  /**
   * Store a validated, normalised report in one transaction: the snapshot and last
   * report are replaced, events are added once per (hostId, seq). All or nothing.
   */
  ingest(
    report: ClientReport,
    receivedAt = new Date().toISOString(),
    origin: ReportOrigin | null = null,
  ): IngestResult {
    return this.ingestTransaction(report, receivedAt, origin);
  }

  /**
   * ingest(), with the commit shared: reports that arrive while the event loop is busy are
   * stored together in one transaction at the next turn (up to INGEST_BATCH), each in a
   * savepoint of its own, so one that fails fails alone. Resolves once its batch committed,
   * so an HTTP answer never claims a report the database does not hold. At fleet scale the
   * commit is half the cost of a report (docs/performance.md).
   */
  ingestSoon(report: ClientReport, origin: ReportOrigin | null = null): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.pendingIngests.push({ report, origin, resolve, reject });
      if (this.pendingIngests.length === 1) setImmediate(() => this.flushIngests());
    });
  }

  private pendingIngests: PendingIngest[] = [];

  private flushIngests(): void {
    while (this.pendingIngests.length > 0) {
      const batch = this.pendingIngests.splice(0, INGEST_BATCH);
      const receivedAt = new Date().toISOString();
      const outcomes: (IngestResult | { error: unknown })[] = [];
      try {
        this.db.transaction(() => {
          for (const item of batch) {
            try {
              // A nested better-sqlite3 transaction is a savepoint: a failure undoes this report only.
              outcomes.push(this.ingestTransaction(item.report, receivedAt, item.origin));
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

  /**
   * Tiered mirrors: the reports of one branch's rollup, in one transaction (all or nothing),
   * each host marked with the branches it came through; the branch is recorded too.
   */
  ingestRollup(
    branch: { branchId: string; mirror: string },
    hosts: readonly { report: ClientReport; origin: ReportOrigin; receivedAt: string }[],
    receivedAt = new Date().toISOString(),
  ): IngestResult[] {
    return this.db.transaction(() => {
      // Each host's receivedAt is when its branch heard from it, so staleness means the host's.
      const results = hosts.map((host) => this.ingestTransaction(host.report, host.receivedAt, host.origin));
      this.statements.upsertBranch.run({ ...branch, lastRollupAt: receivedAt, hosts: hosts.length });
      return results;
    })();
  }

  /**
   * Record the client instance a report names. Returns the instance when this host id had
   * not reported from it before, with the host's other instances (and whether the host
   * reported at all before), so the caller can say so.
   */
  private noteInstance(
    report: ClientReport,
    receivedAt: string,
    knownHost: boolean,
    current: boolean,
  ): NewInstance | undefined {
    const instanceId = report.instanceId;
    if (instanceId === undefined) return undefined;
    const st = this.statements;
    const before = st.instancesOf.all(report.hostId);
    st.upsertInstance.run(report.hostId, instanceId, receivedAt, receivedAt);
    // an outbox report of an earlier instance arriving late does not make it current again
    if (current) st.setInstance.run(instanceId, report.hostId);
    if (before.some((i) => i.instanceId === instanceId)) return undefined;
    return { instanceId, previous: before.map((i) => i.instanceId), knownHost };
  }

  /** undefined: never heard of; via null: the host reports itself; else the branch it reports through. */
  originOf(hostId: string): { via: string | null } | undefined {
    return this.statements.originOf.get(hostId);
  }

  /** Every host with its last report and origin, by hostId (what a rollup forwards). */
  rollupClients(): RollupClientRow[] {
    return this.statements.rollupClients.all().map((row) => ({
      hostId: row.hostId,
      lastSeenAt: row.lastSeenAt,
      lastReport: JSON.parse(row.lastReport) as RollupClientRow['lastReport'],
      origin:
        row.via === null
          ? null
          : {
              path: JSON.parse(row.viaPath ?? '[]') as string[],
              keys: JSON.parse(row.viaKeys ?? '[]') as string[],
            },
    }));
  }

  /** Events stored after event id `afterId`, oldest first (the rollup's cursor walk). */
  eventsAfter(afterId: number, limit: number): StoredEvent[] {
    return this.statements.eventsAfter.all(afterId, limit);
  }

  /** The highest event id stored (0 when none). */
  lastEventId(): number {
    return this.statements.lastEventId.get()?.id ?? 0;
  }

  /** The latest lastSeenAt of any host (null when none): with lastEventId, tells whether anything changed. */
  lastSeenMax(): string | null {
    return this.statements.lastSeenMax.get()?.at ?? null;
  }

  /** The branches that roll up to this server, by id. */
  branches(): BranchRow[] {
    return this.statements.branches.all();
  }

  /** hostId -> branch, for those of the given hosts that report through one. */
  viaOf(hostIds: Iterable<string>): Map<string, string> {
    const ids = JSON.stringify([...new Set(hostIds)]);
    return new Map(this.statements.viaOf.all(ids).map((r) => [r.hostId, r.via]));
  }

  /** Many reports in one transaction (bulk loads, the history benchmark). */
  ingestMany(reports: readonly ClientReport[], receivedAt = new Date().toISOString()): number {
    return this.db.transaction(() => {
      let accepted = 0;
      for (const report of reports) accepted += this.ingestTransaction(report, receivedAt, null).accepted;
      return accepted;
    })();
  }

  /** Client summaries by hostId: all of them, or one page (`after` a hostId, `limit` rows). */
  listClients(page: ClientPage = {}): ClientSummary[] {
    return this.statements.clientSummaries.all(page.after ?? '', page.limit ?? -1).map((row) => ({
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
      patches: this.statements.clientPatches.all(hostId).map(toStoredPatch),
      events: this.statements.recentEvents.all(hostId, RECENT_EVENTS_PER_CLIENT),
      ...(row.instanceId !== null ? { instanceId: row.instanceId } : {}),
      instances: this.statements.instancesOf.all(hostId),
    };
  }

  /** Clients in total, and those not heard from since `staleBefore` (ISO instant). */
  countClients(staleBefore: string): { total: number; stale: number } {
    return {
      total: this.statements.countClients.get()?.total ?? 0,
      stale: this.statements.countStale.get(staleBefore)?.stale ?? 0,
    };
  }

  /**
   * Hosts per state, each in the first that applies: stale (last seen before `staleBefore`),
   * failed (a patch failed), behind (a patch in MISSING_STATES), pending_reboot, compliant.
   * States without hosts are absent.
   */
  countClientStates(staleBefore: string): Map<string, number> {
    return new Map(this.statements.clientStates.all(staleBefore).map((r) => [r.state, r.hosts]));
  }

  hostProfiles(): HostProfileRow[] {
    return this.statements.hostProfiles.all().map((row) => ({
      hostId: row.hostId,
      hostname: row.hostname,
      lastSeenAt: row.lastSeenAt,
      platform: row.platform,
      products: JSON.parse(row.products) as HostProfileRow['products'],
      pendingReboot: row.pendingReboot === 1,
      ...(row.via !== null ? { via: row.via } : {}),
    }));
  }

  /** patchId → (hostId → reported state), for the whole fleet in one query. */
  allStates(): Map<string, Map<string, PatchState>> {
    const byPatch = new Map<string, Map<string, PatchState>>();
    let current: Map<string, PatchState> | undefined;
    let currentId: string | undefined;
    for (const [patchId, hostId, state] of this.statements.allStates.iterate()) {
      if (patchId !== currentId) {
        currentId = patchId;
        current = new Map();
        byPatch.set(patchId, current);
      }
      current?.set(hostId, state);
    }
    return byPatch;
  }

  /**
   * Remember title, severity and release of each catalog patch (the facts the report
   * filters use). Called with every catalog the reports see; rows of patches that left
   * the catalog stay, so their history keeps its severity. Unchanged rows are not written.
   */
  recordPatchFacts(patches: readonly FeedPatch[]): void {
    this.db.transaction(() => {
      for (const p of patches)
        this.statements.upsertPatchFacts.run({
          id: p.id,
          title: p.title,
          severity: p.severity,
          product: p.product,
          release: p.release,
        });
    })();
  }

  /** patchId → facts of every patch recorded by recordPatchFacts. */
  patchFacts(): Map<string, PatchFacts> {
    return new Map(this.statements.patchFacts.all().map((f) => [f.patchId, f]));
  }

  /** hostId → hostname for the given hosts (those never heard from are absent). */
  hostnames(hostIds: Iterable<string>): Map<string, string> {
    const ids = JSON.stringify([...new Set(hostIds)]);
    return new Map(this.statements.hostnames.all(ids).map((r) => [r.hostId, r.hostname]));
  }

  /**
   * Patches held in hosts' local caches: rows the client marked `cached: true`, and
   * every row in state 'downloaded' (older clients do not send `cached`). By patch, host.
   */
  cachedPatches(query: CachedPatchQuery = {}): CachedPatchRow[] {
    // The condition is written as in the partial index client_patches_cached, so it applies.
    const where = ["(p.cached = 1 OR p.state = 'downloaded')"];
    const params: string[] = [];
    if (query.host !== undefined) {
      where.push('p.hostId = ?');
      params.push(query.host);
    }
    if (query.patch !== undefined) {
      where.push('p.patchId = ?');
      params.push(query.patch);
    }
    // Host names joined in code from one read of clients: a lookup per row in SQL
    // costs more than the covering index walk itself at 100,000 rows.
    const sql = `SELECT p.patchId, p.hostId, p.state, p.cached, p.since FROM client_patches p
       WHERE ${where.join(' AND ')} ORDER BY p.patchId, p.hostId`;
    const hostnames =
      query.host !== undefined ? this.hostnames([query.host]) : new Map(this.statements.allHostnames.all());
    const rows = this.prepared(sql)
      .raw(true)
      .all(...params) as [string, string, PatchState, number | null, string | null][];
    return rows.map(([patchId, hostId, state, cached, since]) => ({
      patchId,
      hostId,
      hostname: hostnames.get(hostId) ?? hostId,
      state,
      cached: cached === null ? null : cached === 1,
      since,
    }));
  }

  /** The plan of the Patches Downloaded query (index evidence in the tests). */
  explainCachedPatches(): string[] {
    return this.explain(
      `SELECT p.patchId, p.hostId, p.state, p.cached, p.since FROM client_patches p
       WHERE (p.cached = 1 OR p.state = 'downloaded') ORDER BY p.patchId, p.hostId`,
      [],
    );
  }

  /**
   * Delete events with `at` before `cutoff` (ISO instant), at most `batchSize` per
   * transaction so that ingest is never kept waiting long. Returns how many went.
   */
  deleteEventsBefore(cutoff: string, batchSize: number): number {
    let deleted = 0;
    for (;;) {
      const { changes } = this.statements.deleteEventsBefore.run(cutoff, batchSize);
      deleted += changes;
      if (changes < batchSize) return deleted;
    }
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
    const events = this.prepared(sql).all(...params) as StoredEvent[];
    // Tiered mirrors: events of hosts behind a branch say which (one lookup per page).
    const via = this.viaOf(events.map((e) => e.hostId));
    if (via.size === 0) return events;
    return events.map((e) => {
      const branch = via.get(e.hostId);
      return branch === undefined ? e : { ...e, via: branch };
    });
  }

  /** The plan SQLite chooses for a history query (the index evidence in the tests). */
  explainHistory(query: HistoryQuery): string[] {
    const { sql, params } = historySql(query);
    return this.explain(sql, params);
  }

  /** Statements built from filters, prepared once per distinct SQL text (a handful). */
  private prepared(sql: string): Database.Statement {
    let statement = this.historyStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.historyStatements.set(sql, statement);
    }
    return statement;
  }

  private explain(sql: string, params: readonly (string | number)[]): string[] {
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
      (row) => row.detail,
    );
  }

  close(): void {
    if (!this.db.open) return;
    // Reports waiting for their shared commit are stored, not dropped.
    this.flushIngests();
    // Refresh the planner's statistics so that combined filters (host + type) pick
    // the most selective index; cheap, and a no-op when nothing changed much.
    this.db.pragma('optimize');
    this.db.close();
  }
}

const INSTALL_TYPES = "type IN ('install', 'uninstall')";

/** Build the history SELECT: only the filters given, so SQLite can pick the index for them. */
export function historySql(query: HistoryQuery): { sql: string; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  // Installs without a host or patch filter walk the partial index of installs, which
  // the planner would otherwise pass over for two ranges of events_by_type and a sort.
  const installsOnly = query.installsOnly === true && query.type === undefined;
  const indexedBy = installsOnly && query.host === undefined && query.patch === undefined;
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
  } else if (installsOnly) {
    where.push(INSTALL_TYPES);
  }
  // Severity and release are facts of the patch, checked per event against patch_facts
  // (a Bloom filter). The unary + keeps SQLite from answering through events_by_patch
  // with one range per patch and a sort: the walk stays on the time (or host, patch,
  // installs) index, newest first, and stops after LIMIT matches.
  if (query.severity !== undefined || query.release !== undefined) {
    const facts: string[] = [];
    if (query.severity !== undefined) {
      facts.push('severity = ?');
      params.push(query.severity);
    }
    if (query.release !== undefined) {
      facts.push('release = ?');
      params.push(query.release);
    }
    where.push(`+patchId IN (SELECT patchId FROM patch_facts WHERE ${facts.join(' AND ')})`);
  }
  if (query.since !== undefined) {
    where.push('at >= ?');
    params.push(query.since);
  }
  if (query.until !== undefined) {
    where.push('at < ?');
    params.push(query.until);
  }
  if (query.before !== undefined) {
    where.push('(at, id) < (?, ?)');
    params.push(query.before.at, query.before.id);
  }
  params.push(query.limit);
  const sql =
    'SELECT id, hostId, seq, type, patchId, at, outcome, message, receivedAt, instanceId, output FROM events' +
    (indexedBy ? ' INDEXED BY events_installs' : '') +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ' ORDER BY at DESC, id DESC LIMIT ?';
  return { sql, params };
}

/**
 * A reported patch as the client may send it (since and reason are optional; `cached`
 * is the extension newer clients send).
 */
type StoredPatch = Omit<ReportPatch, 'since'> & { since?: string; reason?: string };

interface PatchRow {
  id: string;
  state: PatchState;
  since: string | null;
  reason: string | null;
  cached: number | null;
}

/** 1 / 0 for a boolean the client sent, null when it sent none (or something else). */
function cachedFlag(value: unknown): number | null {
  return typeof value === 'boolean' ? Number(value) : null;
}

function toStoredPatch(row: PatchRow): StoredPatch {
  const patch: StoredPatch = { id: row.id, state: row.state };
  if (row.since !== null) patch.since = row.since;
  if (row.reason !== null) patch.reason = row.reason;
  if (row.cached !== null) patch.cached = row.cached === 1;
  return patch;
}

/** The via extension fields of a host behind a branch (none for a host that reports itself). */
function viaFields(row: ClientRow): ViaFields {
  if (row.via === null) return {};
  const path = JSON.parse(row.viaPath ?? '[]') as string[];
  return path.length > 1 ? { via: row.via, viaPath: path } : { via: row.via };
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
    ...viaFields(row),
  };
}
