// The counts /v1/status, /v1/clients and /metrics show, aggregated in SQL, and the two
// marks (newest event, latest lastSeenAt) that tell the metrics and the rollup whether
// anything changed since they last looked.
import type Database from 'better-sqlite3';
import type { FleetCounts } from '../report-store-api.js';
import type { ProfileCount } from '../types.js';
import { byPatch, type PatchStateCountRow } from '../patch-state-counts.js';
import { MISSING_SQL } from './client-rows.js';

function prepareStatements(db: Database.Database) {
  return {
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
        ...row,
        products: JSON.parse(row.products) as ProfileCount['products'],
      })),
    pendingRebootInstalls: async () => new Map(st.pendingRebootInstalls.all()),
    lastEventId: async () => st.lastEventId.get()?.id ?? 0,
    lastSeenMax: async () => st.lastSeenMax.get()?.at ?? null,
  };
}
