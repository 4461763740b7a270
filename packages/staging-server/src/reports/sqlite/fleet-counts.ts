// The counts /v1/status, /v1/clients and /metrics show, aggregated in SQL, and the two
// marks (newest event, latest lastSeenAt) that tell the metrics and the rollup whether
// anything changed since they last looked.
import type Database from 'better-sqlite3';
import type { FleetCounts } from '../report-store-api.js';
import type { ProfileCount } from '../types.js';
import { byPatch, type PatchStateCountRow } from '../patch-state-counts.js';

function prepareStatements(db: Database.Database) {
  return {
    countClients: db.prepare<[], { total: number }>('SELECT COUNT(*) AS total FROM clients'),
    countStale: db.prepare<[string], { stale: number }>(
      'SELECT COUNT(*) AS stale FROM clients WHERE lastSeenAt < ?',
    ),
    // The fleet by state for /metrics (metrics/fleet-states.ts), each host in the first that
    // applies: one walk of the index clients_summaries over the hosts' own counters (kept at
    // ingest), which covers the query.
    clientStates: db.prepare<[string], { state: string; hosts: number }>(
      `SELECT CASE WHEN lastSeenAt < ? THEN 'stale' WHEN failed > 0 THEN 'failed' WHEN missing > 0 THEN 'behind'
         WHEN pendingReboot = 1 THEN 'pending_reboot' ELSE 'compliant' END AS state, COUNT(*) AS hosts
       FROM clients INDEXED BY clients_summaries GROUP BY state`,
    ),
    patchStateCounts: db.prepare<[], PatchStateCountRow>(
      'SELECT patchId, state, hosts FROM patch_state_counts WHERE hosts > 0',
    ),
    profileCounts: db.prepare<[], { platform: string; products: string; hosts: number }>(
      'SELECT platform, products, COUNT(*) AS hosts FROM clients GROUP BY platform, products',
    ),
    pendingRebootInstalls: db
      .prepare<[], [string, number]>(
        // CROSS JOIN keeps clients outside: the few hosts awaiting a reboot, then their rows by
        // key, rather than every installed row and its host.
        `SELECT p.patchId, COUNT(*) FROM clients c CROSS JOIN client_patches p ON p.hostId = c.hostId
         WHERE c.pendingReboot = 1 AND p.state = 'installed' GROUP BY p.patchId`,
      )
      .raw(),
    lastEventId: db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM events'),
    lastSeenMax: db.prepare<[], { at: string | null }>('SELECT MAX(lastSeenAt) AS at FROM clients'),
  };
}

export function sqliteFleetCounts(db: Database.Database): FleetCounts {
  const st = prepareStatements(db);
  return {
    countClients: async (staleBefore) => ({
      total: st.countClients.get()?.total ?? 0,
      stale: st.countStale.get(staleBefore)?.stale ?? 0,
    }),
    countClientStates: async (staleBefore) =>
      new Map(st.clientStates.all(staleBefore).map((r) => [r.state, r.hosts])),
    patchStateCounts: async () => byPatch(st.patchStateCounts.all()),
    profileCounts: async () =>
      st.profileCounts.all().map((row) => ({
        platform: row.platform,
        products: JSON.parse(row.products) as ProfileCount['products'],
        productsText: row.products,
        hosts: row.hosts,
      })),
    pendingRebootInstalls: async () => new Map(st.pendingRebootInstalls.all()),
    lastEventId: async () => st.lastEventId.get()?.id ?? 0,
    lastSeenMax: async () => st.lastSeenMax.get()?.at ?? null,
  };
}
