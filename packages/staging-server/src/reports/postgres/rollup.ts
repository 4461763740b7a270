// Tiered mirrors (report rollup): a branch's rollup stored in one transaction, and what
// this server forwards to its own parent — every host's last report and origin, and the
// events after a cursor.
import type { ReportStore } from '../report-store-api.js';
import type { BranchRow, RollupClientRow, StoredEvent } from '../types.js';
import { EVENT_COLUMNS } from './client-rows.js';
import { finishIngest, type IngestOne } from './ingest-one.js';
import type { ReportsDatabase } from './reports-database.js';

type PostgresRollupRecords = Pick<
  ReportStore,
  'ingestRollup' | 'originOf' | 'rollupClients' | 'eventsAfter' | 'branches'
>;

const UPSERT_BRANCH = `INSERT INTO reports.branches (branch_id, mirror, last_rollup_at, hosts) VALUES ($1, $2, $3, $4)
  ON CONFLICT (branch_id) DO UPDATE SET mirror = excluded.mirror, last_rollup_at = excluded.last_rollup_at,
    hosts = excluded.hosts`;

const ROLLUP_CLIENTS = `SELECT host_id AS "hostId", last_seen_at AS "lastSeenAt", last_report AS "lastReport",
  via, via_path AS "viaPath", via_keys AS "viaKeys" FROM reports.clients ORDER BY host_id`;

const BRANCHES = `SELECT branch_id AS "branchId", mirror, last_rollup_at AS "lastRollupAt", hosts
  FROM reports.branches ORDER BY branch_id`;

type RollupRow = Omit<RollupClientRow, 'origin'> & {
  via: string | null;
  viaPath: string[] | null;
  viaKeys: string[] | null;
};

export function postgresRollupRecords(db: ReportsDatabase, ingestOne: IngestOne): PostgresRollupRecords {
  return {
    ingestRollup: (branch, hosts, receivedAt = new Date().toISOString()) =>
      db.transaction(`storing the rollup of branch "${branch.branchId}"`, async (sql) => {
        const results = [];
        // Each host's receivedAt is when its branch heard from it, so staleness means the host's.
        for (const host of hosts)
          results.push(await ingestOne(sql, host.report, host.receivedAt, host.origin));
        await sql.rows(UPSERT_BRANCH, [branch.branchId, branch.mirror, receivedAt, hosts.length]);
        await finishIngest(sql);
        return results;
      }),

    originOf: async (hostId) =>
      (
        await db.rows<{ via: string | null }>('SELECT via FROM reports.clients WHERE host_id = $1', [hostId])
      )[0],

    rollupClients: async () =>
      (await db.rows<RollupRow>(ROLLUP_CLIENTS)).map(({ via, viaPath, viaKeys, ...row }) => ({
        ...row,
        origin: via === null ? null : { path: viaPath ?? [], keys: viaKeys ?? [] },
      })),

    eventsAfter: (afterId, limit) =>
      db.rows<StoredEvent>(`SELECT ${EVENT_COLUMNS} FROM reports.events WHERE id > $1 ORDER BY id LIMIT $2`, [
        afterId,
        limit,
      ]),

    branches: () => db.rows<BranchRow>(BRANCHES),
  };
}
