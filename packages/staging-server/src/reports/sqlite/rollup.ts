// Tiered mirrors (report rollup): a branch's rollup stored in one transaction, and what
// this server forwards to its own parent — every host's last report and origin, and the
// events after a cursor.
import type Database from 'better-sqlite3';
import type { RollupRecords } from '../report-store-api.js';
import type { BranchRow, RollupClientRow, StoredEvent } from '../types.js';
import { valuesByHost, type ClientRow } from './client-rows.js';
import type { IngestOne } from './ingest.js';

function prepareStatements(db: Database.Database) {
  return {
    // hostIds as one JSON array: one statement whatever their number (valuesByHost)
    originsOf: db
      .prepare<[string], [string, string | null]>(
        'SELECT hostId, via FROM clients WHERE hostId IN (SELECT value FROM json_each(?))',
      )
      .raw(),
    rollupClients: db.prepare<[], ClientRow>('SELECT * FROM clients ORDER BY hostId'),
    eventsAfter: db.prepare<[number, number], StoredEvent>(
      'SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?',
    ),
    upsertBranch: db.prepare(
      `INSERT INTO branches (branchId, mirror, lastRollupAt, hosts) VALUES (@branchId, @mirror, @lastRollupAt, @hosts)
       ON CONFLICT (branchId) DO UPDATE SET mirror = excluded.mirror, lastRollupAt = excluded.lastRollupAt,
         hosts = excluded.hosts`,
    ),
    branches: db.prepare<[], BranchRow>('SELECT * FROM branches ORDER BY branchId'),
  };
}

export function sqliteRollupRecords(db: Database.Database, ingestOne: IngestOne): RollupRecords {
  const st = prepareStatements(db);
  const originsOf = (hostIds: readonly string[]) => valuesByHost(st.originsOf, hostIds);
  return {
    ingestRollup: async (branch, admission, receivedAt = new Date().toISOString()) =>
      db.transaction(() => {
        // Checked and written in one synchronous transaction: no other write runs in between.
        const hosts = admission.admit(originsOf(admission.hostIds));
        // Each host's receivedAt is when its branch heard from it, so staleness means the host's.
        const results = hosts.map((host) => ingestOne(host.report, host.receivedAt, host.origin));
        st.upsertBranch.run({ ...branch, lastRollupAt: receivedAt, hosts: hosts.length });
        return results;
      })(),

    originsOf: async (hostIds) => originsOf(hostIds),

    rollupClients: async () =>
      st.rollupClients.all().map((row): RollupClientRow => ({
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
      })),

    eventsAfter: async (afterId, limit) => st.eventsAfter.all(afterId, limit),

    branches: async () => st.branches.all(),
  };
}
