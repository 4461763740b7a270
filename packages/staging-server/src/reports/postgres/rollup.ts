// Tiered mirrors (report rollup): a branch's rollup stored in one transaction, and what
// this server forwards to its own parent — every host's last report and origin, and the
// events after a cursor.
import type { ReportStore } from '../report-store-api.js';
import type { BranchRow, RollupClientRow, StoredEvent } from '../types.js';
import { EVENT_COLUMNS } from './client-rows.js';
import { finishIngest, type IngestOne } from './ingest-one.js';
import type { ReportsDatabase, Sql } from './reports-database.js';

type PostgresRollupRecords = Pick<
  ReportStore,
  'ingestRollup' | 'originsOf' | 'rollupClients' | 'eventsAfter' | 'branches'
>;

const UPSERT_BRANCH = `INSERT INTO reports.branches (branch_id, mirror, last_rollup_at, hosts) VALUES ($1, $2, $3, $4)
  ON CONFLICT (branch_id) DO UPDATE SET mirror = excluded.mirror, last_rollup_at = excluded.last_rollup_at,
    hosts = excluded.hosts`;

const ROLLUP_CLIENTS = `SELECT host_id AS "hostId", last_seen_at AS "lastSeenAt", last_report AS "lastReport",
  via, via_path AS "viaPath", via_keys AS "viaKeys" FROM reports.clients ORDER BY host_id`;

const ORIGINS = `SELECT host_id AS "hostId", via FROM reports.clients WHERE host_id = ANY($1::text[])`;
// Locked in one order (host_id), so two rollups naming the same hosts cannot deadlock on them.
const ORIGINS_LOCKED = `${ORIGINS} ORDER BY host_id FOR UPDATE`;

const BRANCHES = `SELECT branch_id AS "branchId", mirror, last_rollup_at AS "lastRollupAt", hosts
  FROM reports.branches ORDER BY branch_id`;

type OriginRow = { hostId: string; via: string | null };

type RollupRow = Omit<RollupClientRow, 'origin'> & {
  via: string | null;
  viaPath: string[] | null;
  viaKeys: string[] | null;
};

export function postgresRollupRecords(db: ReportsDatabase, ingestOne: IngestOne): PostgresRollupRecords {
  const originsOf = async (sql: Sql, statement: string, hostIds: readonly string[]) =>
    new Map(
      (await sql.rows<OriginRow>(statement, [[...new Set(hostIds)]])).map((row) => [row.hostId, row.via]),
    );
  return {
    ingestRollup: (branch, admission, receivedAt = new Date().toISOString()) =>
      db.transaction(`storing the rollup of branch "${branch.branchId}"`, async (sql) => {
        // The known hosts' rows stay locked to the commit: a report of one of them waits, then
        // takes it over (a host's own report clears its branch). A host first heard of in
        // these milliseconds has no row to lock; its next own report takes it over the same way.
        const hosts = admission.admit(await originsOf(sql, ORIGINS_LOCKED, admission.hostIds));
        const results = [];
        // Each host's receivedAt is when its branch heard from it, so staleness means the host's.
        for (const host of hosts)
          results.push(await ingestOne(sql, host.report, host.receivedAt, host.origin));
        await sql.rows(UPSERT_BRANCH, [branch.branchId, branch.mirror, receivedAt, hosts.length]);
        await finishIngest(sql);
        return results;
      }),

    originsOf: (hostIds) => originsOf(db, ORIGINS, hostIds),

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
