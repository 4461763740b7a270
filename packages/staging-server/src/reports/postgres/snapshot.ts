// Hosts' snapshots in an ingest transaction, several hosts per statement: their clients rows
// and patch states, replaced unless the report is older than the one stored (decided in the
// upsert itself, under the row's lock, so replicas ingesting the same host at once agree),
// and the client instances the reports name. Unchanged patch rows are not written: a host
// re-reporting the same states costs its clients row and nothing in client_patches.
import type { ClientReport } from '@patchbay/core';
import type { NewInstance, ReportOrigin, StoredPatch } from '../types.js';
import { lastReportText, reportProfile, type ReportProfile } from '../stored-rows.js';
import { prepared, type Sql } from './reports-database.js';
import { storableOrNull, storableText } from './storable-text.js';

/** A report to store, with when and through which branches it arrived. */
export interface IngestItem {
  report: ClientReport;
  receivedAt: string;
  origin: ReportOrigin | null;
}

// The snapshot moves forward only: a report queued in a client's outbox may arrive after a
// newer one. A stored reportedAt beyond its own arrival plus the skew window ($14 seconds)
// came from a wrong clock and orders nothing: arrival decides then. (xmax = 0 marks a row
// this statement inserted rather than updated: the usual PostgreSQL idiom.) One row per
// host of the batch, in the batch's (hostId) order, so rows are locked in that order; the
// branch paths come as JSON text, as an array of arrays of unequal lengths cannot be sent.
const UPSERT_CLIENTS = prepared(
  'upsert-clients',
  `
INSERT INTO reports.clients AS c (host_id, hostname, platform, daemon_version, products, last_seen_at,
  reported_at, last_report, pending_reboot, via, via_path, via_keys, instance_id, installed, failed, missing,
  superseded)
SELECT r.host_id, r.hostname, r.platform, r.daemon_version, r.products::json, r.last_seen_at, r.reported_at,
  r.last_report::json, r.pending_reboot, r.via,
  CASE WHEN r.via_path IS NOT NULL THEN ARRAY(SELECT json_array_elements_text(r.via_path::json)) END,
  CASE WHEN r.via_keys IS NOT NULL THEN ARRAY(SELECT json_array_elements_text(r.via_keys::json)) END,
  r.instance_id, r.installed, r.failed, r.missing, r.superseded
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::boolean[], $10::text[], $11::text[], $12::text[], $13::text[], $15::int[], $16::int[], $17::int[], $18::int[])
  AS r (host_id, hostname, platform, daemon_version, products, last_seen_at, reported_at, last_report,
    pending_reboot, via, via_path, via_keys, instance_id, installed, failed, missing, superseded)
ON CONFLICT (host_id) DO UPDATE SET hostname = excluded.hostname, platform = excluded.platform,
  daemon_version = excluded.daemon_version, products = excluded.products, last_seen_at = excluded.last_seen_at,
  reported_at = excluded.reported_at, last_report = excluded.last_report, pending_reboot = excluded.pending_reboot,
  via = excluded.via, via_path = excluded.via_path, via_keys = excluded.via_keys,
  instance_id = COALESCE(excluded.instance_id, c.instance_id), installed = excluded.installed,
  failed = excluded.failed, missing = excluded.missing, superseded = excluded.superseded
WHERE c.reported_at <= excluded.reported_at
   OR c.reported_at::timestamptz > c.last_seen_at::timestamptz + make_interval(secs => $14)
RETURNING host_id AS "hostId", (xmax = 0) AS inserted`,
);

// The rows the upsert left (older reports) are locked by it already: their arrival is noted.
const TOUCH_CLIENTS = prepared(
  'touch-clients',
  `UPDATE reports.clients c SET last_seen_at = t.at
  FROM unnest($1::text[], $2::text[]) AS t (host_id, at) WHERE c.host_id = t.host_id`,
);

// Rows that went away are deleted, the others written only where they differ. The two
// parts touch disjoint rows, so one statement does both; it answers with what moved the
// per-patch state counters: -1 for a (patch, state) a row left, +1 for one it entered.
// (The clients rows, locked by the upsert before, keep other writers of these hosts' rows out.)
const REPLACE_PATCHES = prepared(
  'replace-host-patches',
  `
WITH sent AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[])
    AS s (host_id, patch_id, state, since, reason, cached)
), old AS (
  SELECT host_id, patch_id, state FROM reports.client_patches WHERE host_id = ANY ($1::text[])
), gone AS (
  DELETE FROM reports.client_patches p WHERE p.host_id = ANY ($1::text[])
    AND NOT EXISTS (SELECT 1 FROM sent s WHERE s.host_id = p.host_id AND s.patch_id = p.patch_id)
  RETURNING patch_id, state
), written AS (
  INSERT INTO reports.client_patches AS p (host_id, patch_id, state, since, reason, cached)
  SELECT * FROM sent
  ON CONFLICT (host_id, patch_id) DO UPDATE SET state = excluded.state, since = excluded.since,
    reason = excluded.reason, cached = excluded.cached
  WHERE (p.state, p.since, p.reason, p.cached)
    IS DISTINCT FROM (excluded.state, excluded.since, excluded.reason, excluded.cached)
  RETURNING host_id, patch_id, state
)
SELECT patch_id AS "patchId", state, -1 AS delta FROM gone
UNION ALL
SELECT o.patch_id, o.state, -1 FROM written w JOIN old o USING (host_id, patch_id) WHERE o.state <> w.state
UNION ALL
SELECT w.patch_id, w.state, 1 FROM written w LEFT JOIN old o USING (host_id, patch_id)
  WHERE o.state IS DISTINCT FROM w.state`,
);

const UPSERT_INSTANCES = prepared(
  'upsert-instances',
  `
INSERT INTO reports.client_instances (host_id, instance_id, first_seen_at, last_seen_at)
SELECT n.host_id, n.instance_id, n.at, n.at FROM unnest($1::text[], $2::text[], $3::text[]) AS n (host_id, instance_id, at)
ON CONFLICT (host_id, instance_id) DO UPDATE SET last_seen_at = excluded.last_seen_at
RETURNING host_id AS "hostId", (xmax = 0) AS inserted`,
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
}

/**
 * Replace each host's snapshot with its report's unless that is older; else note its arrival
 * only. `items` name each host once. Answers per item, and what the reports moved the
 * per-patch state counters by.
 */
export async function writeSnapshots(
  sql: Sql,
  items: readonly IngestItem[],
  skewSeconds: number,
): Promise<{ outcomes: SnapshotOutcome[]; counts: CountDelta[] }> {
  const column = <T>(pick: (item: IngestItem) => T) => items.map(pick);
  const profiles = items.map((i) => reportProfile(i.report, i.origin));
  const profileColumn = <T>(pick: (profile: ReportProfile) => T) => profiles.map(pick);
  const upserted = await sql.rows<{ hostId: string; inserted: boolean }>(UPSERT_CLIENTS, [
    column((i) => i.report.hostId),
    profileColumn((p) => storableText(p.hostname)),
    profileColumn((p) => storableText(p.platform)),
    profileColumn((p) => storableText(p.daemonVersion)),
    profileColumn((p) => p.products),
    column((i) => i.receivedAt),
    column((i) => i.report.reportedAt),
    column((i) => lastReportText(i.report)),
    profileColumn((p) => p.pendingReboot),
    profileColumn((p) => p.via),
    profileColumn((p) => p.viaPath),
    profileColumn((p) => p.viaKeys),
    column((i) => i.report.instanceId ?? null),
    skewSeconds,
    // the hosts' counters (schema.ts version 3)
    ...(['installed', 'failed', 'missing', 'superseded'] as const).map((key) => profileColumn((p) => p[key])),
  ]);
  const replaced = new Map(upserted.map((row) => [row.hostId, row.inserted]));
  const older = items.filter((i) => !replaced.has(i.report.hostId));
  if (older.length > 0)
    await sql.rows(TOUCH_CLIENTS, [older.map((i) => i.report.hostId), older.map((i) => i.receivedAt)]);
  const current = items.filter((i) => replaced.has(i.report.hostId));
  const counts = current.length === 0 ? [] : await replacePatches(sql, current);
  const outcomes = items.map((i) => {
    const inserted = replaced.get(i.report.hostId);
    return { snapshotReplaced: inserted !== undefined, knownHost: inserted !== true };
  });
  return { outcomes, counts };
}

function replacePatches(sql: Sql, items: readonly IngestItem[]): Promise<CountDelta[]> {
  const rows = items.flatMap((i) =>
    (i.report.patches as StoredPatch[]).map((p) => ({ hostId: i.report.hostId, p })),
  );
  return sql.rows<CountDelta>(REPLACE_PATCHES, [
    items.map((i) => i.report.hostId),
    rows.map((r) => r.hostId),
    rows.map((r) => storableText(r.p.id)),
    rows.map((r) => r.p.state),
    rows.map((r) => storableOrNull(r.p.since)),
    rows.map((r) => storableOrNull(r.p.reason)),
    // null for a client that did not say (or said something else than a boolean)
    rows.map((r) => (typeof r.p.cached === 'boolean' ? r.p.cached : null)),
  ]);
}

/**
 * Record the client instance each report names (`items` name each host once). Answers per
 * item the instance when this host id had not reported from it before, with the host's other
 * instances (newest first), so the caller can say so.
 */
export async function noteInstances(
  sql: Sql,
  items: readonly IngestItem[],
  knownHost: readonly boolean[],
): Promise<(NewInstance | undefined)[]> {
  const named = items.filter((i) => i.report.instanceId !== undefined);
  if (named.length === 0) return items.map(() => undefined);
  const rows = await sql.rows<{ hostId: string; inserted: boolean }>(UPSERT_INSTANCES, [
    named.map((i) => i.report.hostId),
    named.map((i) => i.report.instanceId),
    named.map((i) => i.receivedAt),
  ]);
  const fresh = new Set(rows.filter((row) => row.inserted).map((row) => row.hostId));
  const answers: (NewInstance | undefined)[] = [];
  for (const [n, { report }] of items.entries()) {
    const instanceId = report.instanceId;
    if (instanceId === undefined || !fresh.has(report.hostId)) {
      answers.push(undefined);
      continue;
    }
    // Rare (a host's first report from an instance): read one host at a time.
    const others = await sql.rows<{ instanceId: string }>(OTHER_INSTANCES, [report.hostId, instanceId]);
    answers.push({ instanceId, previous: others.map((o) => o.instanceId), knownHost: knownHost[n]! });
  }
  return answers;
}
