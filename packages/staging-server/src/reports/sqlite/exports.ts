// The whole-fleet exports read a part at a time: one patch's states (compliance with every
// host) on a connection of their own, and the Patches Downloaded rows a page at a time in
// the order of their index.
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { PatchState } from '@patchbay/core';
import type { FleetExports } from '../report-store-api.js';
import type { CachedPatchQuery } from '../types.js';
import { hostProfile, valuesByHost, type ProfileColumns } from './client-rows.js';
import { Conditions, type FilteredStatements } from './filtered-sql.js';

export interface SqliteFleetExports extends FleetExports {
  /** The plan of the Patches Downloaded query, a page of it (index evidence in the tests). */
  explainCachedPatches(): string[];
}

/** The Patches Downloaded SELECT for the filters and page given. */
function cachedPatchesSql(query: CachedPatchQuery): { sql: string; params: (string | number)[] } {
  // The condition is written as in the partial index client_patches_cached, so it applies.
  const where = new Conditions()
    .add("(p.cached = 1 OR p.state = 'downloaded')")
    .whenSet('p.hostId = ?', query.host)
    .whenSet('p.patchId = ?', query.patch);
  if (query.after !== undefined)
    where.add('(p.patchId, p.hostId) > (?, ?)', query.after.patchId, query.after.hostId);
  const sql = `SELECT p.patchId, p.hostId, p.state, p.cached, p.since FROM client_patches p
       WHERE ${where.toSql()} ORDER BY p.patchId, p.hostId LIMIT ?`;
  return { sql, params: [...where.params, query.limit ?? -1] };
}

// The covering index (patchId, state) holds hostId too (the key of a WITHOUT ROWID table).
const PATCH_STATES =
  'SELECT hostId, state FROM client_patches INDEXED BY client_patches_by_patch WHERE patchId = ?';

/** A patch's states read between two turns of the event loop. */
const STATES_PER_TURN = 10_000;

/**
 * One patch's states, read on a read-only connection of its own in one read transaction: one
 * snapshot, while WAL lets the store's connection write meanwhile. STATES_PER_TURN rows at a
 * time with a turn of the event loop between, as one statement on the store's connection
 * would hold the process for the whole read (about 200 ms at 100,000 hosts).
 */
async function readPatchStates(file: string, patchId: string): Promise<Map<string, PatchState>> {
  const reader = new Database(file, { readonly: true, fileMustExist: true });
  const states = new Map<string, PatchState>();
  try {
    reader.pragma('busy_timeout = 5000');
    reader.exec('BEGIN');
    const rows = reader.prepare<[string], [string, PatchState]>(PATCH_STATES).raw().iterate(patchId);
    try {
      for (let next = rows.next(), n = 1; next.done !== true; next = rows.next(), n++) {
        states.set(next.value[0], next.value[1]);
        if (n % STATES_PER_TURN === 0) await nextTurn();
      }
    } finally {
      rows.return?.();
    }
    reader.exec('COMMIT');
  } finally {
    reader.close();
  }
  return states;
}

export function sqliteFleetExports(db: Database.Database, filtered: FilteredStatements): SqliteFleetExports {
  const patchStates = db.prepare<[string], [string, PatchState]>(PATCH_STATES).raw();
  const hostProfilesPage = db.prepare<[string, number], ProfileColumns>(
    `SELECT hostId, hostname, lastSeenAt, platform, products, pendingReboot, via FROM clients
     WHERE hostId > ? ORDER BY hostId LIMIT ?`,
  );
  const allHostnames = db.prepare<[], [string, string]>('SELECT hostId, hostname FROM clients').raw();
  const hostnamesOf = db
    .prepare<[string], [string, string]>(
      'SELECT hostId, hostname FROM clients WHERE hostId IN (SELECT value FROM json_each(?))',
    )
    .raw();

  return {
    hostProfilesPage: async ({ after, limit }) => hostProfilesPage.all(after, limit).map(hostProfile),

    // An in-memory database has no file a second connection could open: one read.
    patchStates: async (patchId) =>
      db.memory ? new Map(patchStates.all(patchId)) : readPatchStates(db.name, patchId),

    async cachedPatches(query = {}) {
      const { sql, params } = cachedPatchesSql(query);
      const rows = filtered
        .prepared(sql)
        .raw(true)
        .all(...params) as [string, string, PatchState, number | null, string | null][];
      // Host names joined in code: for the whole list from one read of clients (a lookup
      // per row in SQL costs more than the covering index walk itself at 100,000 rows);
      // for a page, of its hosts alone.
      const names =
        query.limit === undefined && query.host === undefined
          ? new Map(allHostnames.all())
          : valuesByHost(
              hostnamesOf,
              rows.map((row) => row[1]),
            );
      return rows.map(([patchId, hostId, state, cached, since]) => ({
        patchId,
        hostId,
        hostname: names.get(hostId) ?? hostId,
        state,
        cached: cached === null ? null : cached === 1,
        since,
      }));
    },

    explainCachedPatches() {
      const { sql, params } = cachedPatchesSql({ after: { patchId: '', hostId: '' }, limit: 1000 });
      return filtered.explain(sql, params);
    },
  };
}
