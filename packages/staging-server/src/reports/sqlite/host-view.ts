// The status page's host view a page at a time: the hosts of the listed profiles ordered in
// SQL by what their clients rows keep (the per-host counters of migrations.ts version 6,
// lastSeenAt, hostId), walking the narrow index clients_by_profile rather than the rows;
// then the page's profiles and patch states alone.
import type Database from 'better-sqlite3';
import type { PatchState } from '@patchbay/core';
import { hostViewOrderBy, profileFree, statesByPatch } from '../fleet-read.js';
import type { FleetRead, HostViewQuery } from '../types.js';
import { hostProfile, type ProfileColumns } from './client-rows.js';
import type { FilteredStatements } from './filtered-sql.js';

function pageSql(query: HostViewQuery): string {
  const orderBy = `ORDER BY ${hostViewOrderBy(query, { hostId: 'hostId', lastSeenAt: 'lastSeenAt' })} LIMIT ? OFFSET ?`;
  if (profileFree(query)) return `SELECT c.hostId FROM clients c ${orderBy}`;
  const profiles = query.profiles.map(() => '(?, ?, ?)').join(', ');
  return `WITH r (platform, products, relevant) AS (VALUES ${profiles})
    SELECT c.hostId FROM r JOIN clients c ON c.platform = r.platform AND c.products = r.products ${orderBy}`;
}

function pageParams(query: HostViewQuery): (string | number)[] {
  const profiles = profileFree(query)
    ? []
    : query.profiles.flatMap((p) => [p.platform, p.productsText, p.relevant]);
  return [...profiles, query.limit, query.offset];
}

export interface SqliteHostView {
  hostViewPage(query: HostViewQuery): Promise<FleetRead>;
  /** The plan of a host view page's query (index evidence in the tests). */
  explainHostViewPage(query: HostViewQuery): string[];
}

export function sqliteHostView(db: Database.Database, filtered: FilteredStatements): SqliteHostView {
  const profilesOf = db.prepare<[string], ProfileColumns>(
    `SELECT hostId, hostname, lastSeenAt, platform, products, pendingReboot, via FROM clients
     WHERE hostId IN (SELECT value FROM json_each(?))`,
  );
  const statesOf = db
    .prepare<[string], [string, string, PatchState]>(
      'SELECT patchId, hostId, state FROM client_patches WHERE hostId IN (SELECT value FROM json_each(?))',
    )
    .raw();

  return {
    async hostViewPage(query) {
      if (query.profiles.length === 0) return { hosts: [], states: new Map() };
      const ids = filtered
        .prepared(pageSql(query))
        .pluck()
        .all(...pageParams(query)) as string[];
      const json = JSON.stringify(ids);
      const byId = new Map(profilesOf.all(json).map((row) => [row.hostId, hostProfile(row)]));
      const states = statesByPatch(statesOf.iterate(json));
      return { hosts: ids.flatMap((id) => byId.get(id) ?? []), states };
    },
    explainHostViewPage: (query) => filtered.explain(pageSql(query), pageParams(query)),
  };
}
