// The fleet as the admin views read it: the clients list and a client's detail, every
// host's profile and patch states (compliance), and the catalog patches' facts the report
// filters use. (The whole-fleet exports, read a part at a time, are exports.ts.)
import type { PatchState } from '@patchbay/core';
import type { ClientDetail, InstanceRow, PatchFacts, StoredEvent } from '../types.js';
import { parsedOnce } from '../fleet-read.js';
import type { ReportStore } from '../report-store-api.js';
import {
  CLIENT_COLUMNS,
  EVENT_COLUMNS,
  INSTANCES_OF_HOST,
  PROFILE_COLUMNS,
  SUMMARY_COLUMNS,
  clientFields,
  profileOf,
  type ClientRow,
  type PatchRow,
  type ProfileRow,
  type SummaryRow,
} from './client-rows.js';
import { storedPatch } from '../stored-rows.js';
import type { ReportsDatabase } from './reports-database.js';

type PostgresFleetQueries = Pick<
  ReportStore,
  'listClients' | 'getClient' | 'hostProfiles' | 'allStates' | 'hostnames' | 'recordPatchFacts' | 'patchFacts'
>;

const RECENT_EVENTS_PER_CLIENT = 50;

// Walks the clients' primary key from `$1` and stops after `$2` hosts (null: all of them),
// so a page costs its size; each host's counts are its row's own (kept at ingest).
const CLIENT_SUMMARIES = `SELECT ${SUMMARY_COLUMNS} FROM reports.clients c
  WHERE c.host_id > $1 ORDER BY c.host_id LIMIT $2`;

// A client's detail in one statement, so its parts come from one snapshot of the database.
const CLIENT_DETAIL = `SELECT ${CLIENT_COLUMNS}, c.last_report AS "lastReport",
  (SELECT coalesce(json_agg(p ORDER BY p.id), '[]') FROM (SELECT patch_id AS id, state, since, reason, cached
     FROM reports.client_patches WHERE host_id = c.host_id) AS p) AS patches,
  (SELECT coalesce(json_agg(e ORDER BY e.at DESC, e.id DESC), '[]') FROM (SELECT ${EVENT_COLUMNS}
     FROM reports.events WHERE host_id = c.host_id ORDER BY at DESC, id DESC LIMIT ${RECENT_EVENTS_PER_CLIENT}) AS e)
    AS events,
  (SELECT coalesce(json_agg(i), '[]') FROM (${INSTANCES_OF_HOST}) AS i) AS instances
  FROM reports.clients c WHERE c.host_id = $1`;

type DetailRow = ClientRow & {
  lastReport: ClientDetail['lastReport'];
  patches: PatchRow[];
  events: StoredEvent[];
  instances: InstanceRow[];
};

// Unchanged rows are not written.
const UPSERT_PATCH_FACTS = `INSERT INTO reports.patch_facts AS f (patch_id, title, severity, product, release)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
  ON CONFLICT (patch_id) DO UPDATE SET title = excluded.title, severity = excluded.severity,
    product = excluded.product, release = excluded.release
  WHERE (f.title, f.severity, f.product, f.release)
    IS DISTINCT FROM (excluded.title, excluded.severity, excluded.product, excluded.release)`;

export function postgresFleetQueries(db: ReportsDatabase): PostgresFleetQueries {
  return {
    async listClients(page = {}) {
      const rows = await db.rows<SummaryRow>(CLIENT_SUMMARIES, [page.after ?? '', page.limit ?? null]);
      const productsOf = parsedOnce<ClientRow['products']>();
      return rows.map((row) => {
        const products = productsOf(row.products);
        return {
          ...clientFields({ ...row, products }),
          installed: row.installed,
          missing: row.missing,
          failed: row.failed,
        };
      });
    },

    async getClient(hostId) {
      const [row] = await db.rows<DetailRow>(CLIENT_DETAIL, [hostId]);
      if (row === undefined) return null;
      return {
        ...clientFields(row),
        reportedAt: row.reportedAt,
        lastReport: row.lastReport,
        patches: row.patches.map(storedPatch),
        events: row.events,
        ...(row.instanceId !== null ? { instanceId: row.instanceId } : {}),
        instances: row.instances,
      };
    },

    hostProfiles: async () =>
      (await db.rows<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM reports.clients c ORDER BY c.host_id`)).map(
        profileOf,
      ),

    async allStates() {
      const byPatch = new Map<string, Map<string, PatchState>>();
      const rows = await db.arrays<[string, string, PatchState]>(
        'SELECT patch_id, host_id, state FROM reports.client_patches ORDER BY patch_id, host_id',
      );
      for (const [patchId, hostId, state] of rows) {
        let hosts = byPatch.get(patchId);
        if (hosts === undefined) byPatch.set(patchId, (hosts = new Map()));
        hosts.set(hostId, state);
      }
      return byPatch;
    },

    hostnames: async (hostIds) =>
      new Map(
        await db.arrays<[string, string]>(
          'SELECT host_id, hostname FROM reports.clients WHERE host_id = ANY ($1::text[])',
          [[...new Set(hostIds)]],
        ),
      ),

    async recordPatchFacts(patches) {
      // One row per patch id (a later catalog's facts win), as one statement may not touch a row twice.
      const facts = [...new Map(patches.map((p) => [p.id, p])).values()];
      if (facts.length === 0) return;
      const column = (pick: (p: (typeof facts)[number]) => string) => facts.map(pick);
      await db.statement('recording the catalog patches’ facts', UPSERT_PATCH_FACTS, [
        column((p) => p.id),
        column((p) => p.title),
        column((p) => p.severity),
        column((p) => p.product),
        column((p) => p.release),
      ]);
    },

    patchFacts: async () =>
      new Map(
        (
          await db.rows<PatchFacts>(
            'SELECT patch_id AS "patchId", title, severity, product, release FROM reports.patch_facts',
          )
        ).map((f) => [f.patchId, f]),
      ),
  };
}
