// A host's snapshot in an ingest transaction: its clients row and patch states, replaced
// unless the report is older than the one stored (decided in the upsert itself, under the
// row's lock, so replicas ingesting the same host at once agree), and the client instance
// the report names. Unchanged patch rows are not written: a host re-reporting the same
// states costs its clients row and nothing in client_patches.
import type { ClientReport } from '@patchbay/core';
import type { NewInstance, ReportOrigin, StoredPatch } from '../types.js';
import { hostCounts } from '../fleet-read.js';
import { prepared, type Sql } from './reports-database.js';
import { storableOrNull, storableText } from './storable-text.js';

// The snapshot moves forward only: a report queued in a client's outbox may arrive after a
// newer one. A stored reportedAt beyond its own arrival plus the skew window ($14 seconds)
// came from a wrong clock and orders nothing: arrival decides then. (xmax = 0 marks a row
// this statement inserted rather than updated: the usual PostgreSQL idiom.)
const UPSERT_CLIENT = prepared(
  'upsert-client',
  `
INSERT INTO reports.clients AS c (host_id, hostname, platform, daemon_version, products, last_seen_at,
  reported_at, last_report, pending_reboot, via, via_path, via_keys, instance_id, installed, failed, missing, superseded)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $16, $17, $18)
ON CONFLICT (host_id) DO UPDATE SET hostname = excluded.hostname, platform = excluded.platform,
  daemon_version = excluded.daemon_version, products = excluded.products, last_seen_at = excluded.last_seen_at,
  reported_at = excluded.reported_at, last_report = excluded.last_report, pending_reboot = excluded.pending_reboot,
  via = excluded.via, via_path = excluded.via_path, via_keys = excluded.via_keys,
  instance_id = COALESCE(excluded.instance_id, c.instance_id), installed = excluded.installed,
  failed = excluded.failed, missing = excluded.missing, superseded = excluded.superseded
WHERE c.reported_at <= excluded.reported_at
   OR c.reported_at::timestamptz > c.last_seen_at::timestamptz + make_interval(secs => $14)
RETURNING (xmax = 0) AS inserted`,
);

const TOUCH_CLIENT = prepared(
  'touch-client',
  'UPDATE reports.clients SET last_seen_at = $2 WHERE host_id = $1',
);

// Rows that went away are deleted, the others written only where they differ. The two
// parts touch disjoint rows, so one statement does both; it answers with what moved the
// per-patch state counters: -1 for a (patch, state) a row left, +1 for one it entered.
// (The clients row, locked by the upsert before, keeps other writers of this host's rows out.)
const REPLACE_PATCHES = prepared(
  'replace-patches',
  `
WITH old AS (
  SELECT patch_id, state FROM reports.client_patches WHERE host_id = $1
), gone AS (
  DELETE FROM reports.client_patches WHERE host_id = $1 AND patch_id <> ALL ($2::text[])
  RETURNING patch_id, state
), written AS (
  INSERT INTO reports.client_patches AS p (host_id, patch_id, state, since, reason, cached)
  SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[])
  ON CONFLICT (host_id, patch_id) DO UPDATE SET state = excluded.state, since = excluded.since,
    reason = excluded.reason, cached = excluded.cached
  WHERE (p.state, p.since, p.reason, p.cached)
    IS DISTINCT FROM (excluded.state, excluded.since, excluded.reason, excluded.cached)
  RETURNING patch_id, state
)
SELECT patch_id AS "patchId", state, -1 AS delta FROM gone
UNION ALL
SELECT o.patch_id, o.state, -1 FROM written w JOIN old o USING (patch_id) WHERE o.state <> w.state
UNION ALL
SELECT w.patch_id, w.state, 1 FROM written w LEFT JOIN old o USING (patch_id)
  WHERE o.state IS DISTINCT FROM w.state`,
);

const UPSERT_INSTANCE = prepared(
  'upsert-instance',
  `
INSERT INTO reports.client_instances (host_id, instance_id, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3)
ON CONFLICT (host_id, instance_id) DO UPDATE SET last_seen_at = excluded.last_seen_at
RETURNING (xmax = 0) AS inserted`,
);

const OTHER_INSTANCES = prepared(
  'other-instances',
  `SELECT instance_id AS "instanceId" FROM reports.client_instances
  WHERE host_id = $1 AND instance_id <> $2 ORDER BY first_seen_at DESC, instance_id`,
);

/** A move of one per-patch state counter. */
export interface CountDelta {
  patchId: string;
  state: string;
  delta: number;
}

export interface SnapshotOutcome {
  snapshotReplaced: boolean;
  /** the host had a row before this report */
  knownHost: boolean;
  /** what the report moved the per-patch state counters by */
  counts: CountDelta[];
}

/** Replace the host's snapshot with the report's unless it is older; else note its arrival only. */
export async function writeSnapshot(
  sql: Sql,
  report: ClientReport,
  receivedAt: string,
  origin: ReportOrigin | null,
  skewSeconds: number,
): Promise<SnapshotOutcome> {
  const { events: _events, ...withoutEvents } = report;
  // the host's counters: its patch rows are the report's once replacePatches is done
  const counters = hostCounts(report.patches);
  const [upserted] = await sql.rows<{ inserted: boolean }>(UPSERT_CLIENT, [
    report.hostId,
    // Only hostId, reportedAt, patches and events are required by REPORT_SCHEMA.
    storableText(report.hostname ?? report.hostId),
    storableText(report.platform ?? ''),
    storableText(report.daemonVersion ?? ''),
    JSON.stringify(report.products ?? []),
    receivedAt,
    report.reportedAt,
    JSON.stringify(withoutEvents),
    report.pendingReboot === true,
    // A report the host sent itself clears a branch binding: it now reports directly.
    origin?.path[0] ?? null,
    origin?.path ?? null,
    origin?.keys ?? null,
    report.instanceId ?? null,
    skewSeconds,
    counters.installed,
    counters.failed,
    counters.missing,
    counters.superseded,
  ]);
  if (upserted === undefined) {
    await sql.rows(TOUCH_CLIENT, [report.hostId, receivedAt]);
    return { snapshotReplaced: false, knownHost: true, counts: [] };
  }
  const counts = await replacePatches(sql, report.hostId, report.patches as StoredPatch[]);
  return { snapshotReplaced: true, knownHost: !upserted.inserted, counts };
}

function replacePatches(sql: Sql, hostId: string, patches: readonly StoredPatch[]): Promise<CountDelta[]> {
  return sql.rows<CountDelta>(REPLACE_PATCHES, [
    hostId,
    patches.map((p) => storableText(p.id)),
    patches.map((p) => p.state),
    patches.map((p) => storableOrNull(p.since)),
    patches.map((p) => storableOrNull(p.reason)),
    // null for a client that did not say (or said something else than a boolean)
    patches.map((p) => (typeof p.cached === 'boolean' ? p.cached : null)),
  ]);
}

/**
 * Record the client instance a report names. Returns it when this host id had not reported
 * from it before, with the host's other instances (newest first), so the caller can say so.
 */
export async function noteInstance(
  sql: Sql,
  report: ClientReport,
  receivedAt: string,
  knownHost: boolean,
): Promise<NewInstance | undefined> {
  const instanceId = report.instanceId;
  if (instanceId === undefined) return undefined;
  const [row] = await sql.rows<{ inserted: boolean }>(UPSERT_INSTANCE, [
    report.hostId,
    instanceId,
    receivedAt,
  ]);
  if (row?.inserted !== true) return undefined;
  const others = await sql.rows<{ instanceId: string }>(OTHER_INSTANCES, [report.hostId, instanceId]);
  return { instanceId, previous: others.map((o) => o.instanceId), knownHost };
}
