// Reports in an ingest transaction the caller holds: the hosts' snapshots, instances and
// events (snapshot.ts, events.ts), several hosts per statement; and what every ingest
// transaction ends with: the per-patch state counters moved by all its reports at once, then the revision
// bump, so every replica's revision() moves when any of them ingests.
import { ingestResult } from '../stored-rows.js';
import type { ClientReport } from '@patchbay/core';
import type { ReportStoreOptions } from '../report-store-api.js';
import type { IngestResult, ReportOrigin } from '../types.js';
import { prepared, type Sql } from './reports-database.js';
import { addEvents } from './events.js';
import { noteInstances, writeSnapshots, type CountDelta, type IngestItem } from './snapshot.js';

/** Reports inside a transaction the caller holds, answered in their order. */
export type IngestAll = (sql: Sql, items: readonly IngestItem[]) => Promise<IngestResult[]>;

/** One report inside a transaction the caller holds. */
export type IngestOne = (
  sql: Sql,
  report: ClientReport,
  receivedAt: string,
  origin: ReportOrigin | null,
) => Promise<IngestResult>;

// Last in every ingest transaction, so the row's lock is held for the commit alone.
const BUMP_REVISION = prepared('bump-revision', 'UPDATE reports.revision SET value = value + 1');

// The counter rows in (patch, state) order, as unnest hands them: every transaction locks
// them in that one order, so two replicas' ingests never wait on each other in a cycle.
const MOVE_COUNTS = prepared(
  'move-counts',
  `
INSERT INTO reports.patch_state_counts AS c (patch_id, state, hosts)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
ON CONFLICT (patch_id, state) DO UPDATE SET hosts = c.hosts + excluded.hosts`,
);

/** The counter moves of a transaction's reports so far, by its statements' handle. */
const pendingCounts = new WeakMap<Sql, Map<string, CountDelta>>();

function noteCounts(sql: Sql, deltas: readonly CountDelta[]): void {
  if (deltas.length === 0) return;
  let pending = pendingCounts.get(sql);
  if (pending === undefined) pendingCounts.set(sql, (pending = new Map()));
  for (const { patchId, state, delta } of deltas) {
    // The key sorts as (patchId, state) in every replica alike (ids hold no NUL: storable-text.ts).
    const key = `${patchId}\u0000${state}`;
    const moved = pending.get(key);
    if (moved === undefined) pending.set(key, { patchId, state, delta });
    else moved.delta += delta;
  }
}

/**
 * End the caller's ingest transaction (its last statements): move the per-patch state
 * counters by what its reports changed, then bump the revision.
 */
export async function finishIngest(sql: Sql): Promise<void> {
  const pending = pendingCounts.get(sql);
  pendingCounts.delete(sql);
  const moves = [...(pending?.entries() ?? [])]
    .filter(([, move]) => move.delta !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, move]) => move);
  if (moves.length > 0)
    await sql.rows(MOVE_COUNTS, [
      moves.map((m) => m.patchId),
      moves.map((m) => m.state),
      moves.map((m) => m.delta),
    ]);
  await sql.rows(BUMP_REVISION);
}

/** Most reports one statement takes (a shared commit's, or a part of a bulk load). */
const MOST_PER_PART = 256;

/**
 * The items in hostId order, cut where a host comes again and every MOST_PER_PART: each part
 * names a host once (one statement cannot write a row twice), a host's reports keep their order, and rows are locked
 * in one order across the whole transaction, so two replicas' batches never wait on each
 * other in a cycle. Returns the parts as indexes into `items`.
 */
function partsByHost(items: readonly IngestItem[]): number[][] {
  const order = items.map((_, i) => i);
  // stable: a host's reports keep their arrival order
  order.sort((a, b) => compareText(items[a]!.report.hostId, items[b]!.report.hostId));
  const parts: number[][] = [];
  let part: number[] = [];
  for (const i of order) {
    const again = part.length > 0 && items[part.at(-1)!]!.report.hostId === items[i]!.report.hostId;
    if (again || part.length === MOST_PER_PART) {
      parts.push(part);
      part = [];
    }
    part.push(i);
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function ingestAllWith(options: ReportStoreOptions): IngestAll {
  const skewSeconds = options.maxClockSkewSeconds ?? 300;
  return async (sql, items) => {
    const results: IngestResult[] = new Array<IngestResult>(items.length);
    for (const part of partsByHost(items)) {
      const batch = part.map((i) => items[i]!);
      const { outcomes, counts } = await writeSnapshots(sql, batch, skewSeconds);
      noteCounts(sql, counts);
      const instances = await noteInstances(
        sql,
        batch,
        outcomes.map((o) => o.knownHost),
      );
      const events = await addEvents(sql, batch);
      part.forEach((i, n) => {
        const { newEvents, conflicts } = events[n]!;
        results[i] = ingestResult(newEvents, outcomes[n]!.snapshotReplaced, conflicts, instances[n]);
      });
    }
    return results;
  };
}

/** One report through `ingestAll`. */
export function ingestOneOf(ingestAll: IngestAll): IngestOne {
  return async (sql, report, receivedAt, origin) =>
    (await ingestAll(sql, [{ report, receivedAt, origin }]))[0]!;
}
