// The status page's host view a page at a time: the hosts of the listed profiles ordered in
// SQL by what their clients rows keep (the per-host counters of schema.ts version 3,
// last_seen_at, host_id), then the page's profiles and patch states alone.
import type { PatchState } from '@patchbay/core';
import type { HostView } from '../report-store-api.js';
import { hostViewOrderBy, profileFree, statesByPatch } from '../fleet-read.js';
import type { HostViewQuery } from '../types.js';
import { PROFILE_COLUMNS, profileOf, type ProfileRow } from './client-rows.js';
import type { ReportsDatabase } from './reports-database.js';

/** The page's query and its parameters: keys of the host's own with every host listed need no profile. */
function pageQuery(query: HostViewQuery): { sql: string; params: unknown[] } {
  const order = hostViewOrderBy(query, { hostId: 'host_id', lastSeenAt: 'last_seen_at' });
  if (profileFree(query))
    return {
      sql: `SELECT c.host_id FROM reports.clients c ORDER BY ${order} LIMIT $1 OFFSET $2`,
      params: [query.limit, query.offset],
    };
  const { profiles } = query;
  return {
    sql: `SELECT c.host_id FROM unnest($1::text[], $2::text[], $3::int[]) AS r (platform, products, relevant)
      JOIN reports.clients c ON c.platform = r.platform AND c.products::text = r.products
      ORDER BY ${order} LIMIT $4 OFFSET $5`,
    params: [
      profiles.map((p) => p.platform),
      profiles.map((p) => p.productsText),
      profiles.map((p) => p.relevant),
      query.limit,
      query.offset,
    ],
  };
}

export function postgresHostView(db: ReportsDatabase): HostView {
  return {
    async hostViewPage(query) {
      const { sql, params } = pageQuery(query);
      const ids = (await db.arrays<[string]>(sql, params)).map(([id]) => id);
      if (ids.length === 0) return { hosts: [], states: new Map() };
      const [hosts, rows] = await Promise.all([
        db.rows<ProfileRow>(
          `SELECT ${PROFILE_COLUMNS} FROM reports.clients c WHERE c.host_id = ANY ($1::text[])`,
          [ids],
        ),
        db.arrays<[string, string, PatchState]>(
          'SELECT patch_id, host_id, state FROM reports.client_patches WHERE host_id = ANY ($1::text[])',
          [ids],
        ),
      ]);
      const byId = new Map(hosts.map((row) => [row.hostId, profileOf(row)]));
      const states = statesByPatch(rows);
      return { hosts: ids.flatMap((id) => byId.get(id) ?? []), states };
    },
  };
}
