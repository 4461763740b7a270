// The counts /v1/status, /v1/clients and /metrics show, aggregated in SQL, and the two
// marks (newest event, latest lastSeenAt) that tell the metrics and the rollup whether
// anything changed since they last looked.
import type { ReportStore } from '../report-store-api.js';
import type { ProfileCount } from '../types.js';
import { byPatch, type PatchStateCountRow } from '../patch-state-counts.js';
import type { ReportsDatabase } from './reports-database.js';

type PostgresFleetCounts = Pick<
  ReportStore,
  | 'countClients'
  | 'countClientStates'
  | 'patchStateCounts'
  | 'profileCounts'
  | 'pendingRebootInstalls'
  | 'lastEventId'
  | 'lastSeenMax'
>;

const COUNT_CLIENTS = `SELECT count(*) AS total, count(*) FILTER (WHERE last_seen_at < $1) AS stale
  FROM reports.clients`;

// Each host in the first state that applies (metrics/fleet-states.ts), from the hosts' own
// counters (kept at ingest); the index clients_states holds every column it reads.
const CLIENT_STATES = `SELECT CASE WHEN last_seen_at < $1 THEN 'stale' WHEN failed > 0 THEN 'failed'
    WHEN missing > 0 THEN 'behind' WHEN pending_reboot THEN 'pending_reboot' ELSE 'compliant' END AS state,
    count(*) AS hosts
  FROM reports.clients GROUP BY 1`;

// products is json (kept as sent): grouped by its text.
const PROFILE_COUNTS = `SELECT platform, products::text AS products, count(*) AS hosts
  FROM reports.clients GROUP BY platform, products::text`;

const PENDING_REBOOT_INSTALLS = `SELECT p.patch_id, count(*) FROM reports.clients c
  JOIN reports.client_patches p ON p.host_id = c.host_id
  WHERE c.pending_reboot AND p.state = 'installed' GROUP BY p.patch_id`;

export function postgresFleetCounts(db: ReportsDatabase): PostgresFleetCounts {
  return {
    async countClients(staleBefore) {
      const [row] = await db.rows<{ total: number; stale: number }>(COUNT_CLIENTS, [staleBefore]);
      return { total: row?.total ?? 0, stale: row?.stale ?? 0 };
    },
    countClientStates: async (staleBefore) =>
      new Map(await db.arrays<[string, number]>(CLIENT_STATES, [staleBefore])),
    patchStateCounts: async () =>
      byPatch(
        await db.rows<PatchStateCountRow>(
          'SELECT patch_id AS "patchId", state, hosts FROM reports.patch_state_counts WHERE hosts > 0',
        ),
      ),
    profileCounts: async () =>
      (await db.rows<{ platform: string; products: string; hosts: number }>(PROFILE_COUNTS)).map((row) => ({
        platform: row.platform,
        products: JSON.parse(row.products) as ProfileCount['products'],
        productsText: row.products,
        hosts: row.hosts,
      })),
    pendingRebootInstalls: async () => new Map(await db.arrays<[string, number]>(PENDING_REBOOT_INSTALLS)),
    lastEventId: async () =>
      (await db.rows<{ id: number | null }>('SELECT max(id) AS id FROM reports.events'))[0]?.id ?? 0,
    lastSeenMax: async () =>
      (await db.rows<{ at: string | null }>('SELECT max(last_seen_at) AS at FROM reports.clients'))[0]?.at ??
      null,
  };
}
