// The whole-fleet exports read a part at a time: one patch's states (compliance with every
// host), and the Patches Downloaded rows a page at a time in the order of their index.
import type { PatchState } from '@patchbay/core';
import type { FleetExports } from '../report-store-api.js';
import type { CachedPatchRow } from '../types.js';
import { PROFILE_COLUMNS, profileOf, type ProfileRow } from './client-rows.js';
import { Conditions } from './conditions.js';
import type { ReportsDatabase } from './reports-database.js';

// An index-only scan of client_patches_by_patch (patch_id, state) INCLUDE (host_id).
const PATCH_STATES = 'SELECT host_id, state FROM reports.client_patches WHERE patch_id = $1';

// Host names joined here: a host's patch rows outlive nothing, but a name is shown as its id when absent.
const CACHED_PATCHES = `SELECT p.patch_id, p.host_id, coalesce(c.hostname, p.host_id), p.state, p.cached, p.since
  FROM reports.client_patches p LEFT JOIN reports.clients c ON c.host_id = p.host_id`;

export function postgresFleetExports(db: ReportsDatabase): FleetExports {
  return {
    hostProfilesPage: async ({ after, limit }) =>
      (
        await db.rows<ProfileRow>(
          `SELECT ${PROFILE_COLUMNS} FROM reports.clients c WHERE c.host_id > $1 ORDER BY c.host_id LIMIT $2`,
          [after, limit],
        )
      ).map(profileOf),

    patchStates: async (patchId) => new Map(await db.arrays<[string, PatchState]>(PATCH_STATES, [patchId])),

    async cachedPatches(query = {}) {
      // Written as in the partial index client_patches_cached (patch_id, host_id), so it
      // applies, and a page starts where the last one ended in it.
      const where = new Conditions()
        .add("(p.cached OR p.state = 'downloaded')")
        .whenSet('p.host_id = ?', query.host)
        .whenSet('p.patch_id = ?', query.patch);
      if (query.after !== undefined)
        where.add('(p.patch_id, p.host_id) > (?, ?)', query.after.patchId, query.after.hostId);
      const limit = `LIMIT ${where.nextPlaceholder}`;
      const rows = await db.arrays<[string, string, string, PatchState, boolean | null, string | null]>(
        `${CACHED_PATCHES}${where.toSql()} ORDER BY p.patch_id, p.host_id ${limit}`,
        [...where.params, query.limit ?? null],
      );
      return rows.map(([patchId, hostId, hostname, state, cached, since]): CachedPatchRow => ({
        patchId,
        hostId,
        hostname,
        state,
        cached,
        since,
      }));
    },
  };
}
