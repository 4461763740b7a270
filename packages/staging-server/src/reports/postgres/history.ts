// The event history: events matching the filters, newest first, paged by (at, id), each
// filter answered by an index ending in (at, id) (schema.ts); and its retention, oldest
// first, in short transactions.
import type { ReportStore } from '../report-store-api.js';
import type { HistoryQuery, StoredEvent } from '../types.js';
import { EVENT_COLUMNS } from './client-rows.js';
import { Conditions } from './conditions.js';
import type { ReportsDatabase } from './reports-database.js';

type PostgresEventHistory = Pick<ReportStore, 'history' | 'eventCursor' | 'deleteEventsBefore'>;

/**
 * The history SELECT: only the filters given, so the planner picks the index for them.
 * Exported for the plan test (report-store-postgres.test.ts).
 */
export function historySql(query: HistoryQuery): { text: string; values: (string | number)[] } {
  const where = new Conditions()
    .whenSet('host_id = ?', query.host)
    .whenSet('patch_id = ?', query.patch)
    .whenSet('type = ?', query.type);
  // Written as in the partial index events_installs, so it applies.
  if (query.installsOnly === true && query.type === undefined) where.add("type IN ('install', 'uninstall')");
  // Severity and release are facts of the patch, looked up in patch_facts.
  const facts: [string, string][] = [];
  if (query.severity !== undefined) facts.push(['severity = ?', query.severity]);
  if (query.release !== undefined) facts.push(['release = ?', query.release]);
  if (facts.length > 0)
    where.add(
      `patch_id IN (SELECT patch_id FROM reports.patch_facts WHERE ${facts.map(([c]) => c).join(' AND ')})`,
      ...facts.map(([, value]) => value),
    );
  where.whenSet('at >= ?', query.since).whenSet('at < ?', query.until);
  if (query.before !== undefined) where.add('(at, id) < (?, ?)', query.before.at, query.before.id);
  const text = `SELECT ${EVENT_COLUMNS} FROM reports.events${where.toSql()}
    ORDER BY at DESC, id DESC LIMIT ${where.nextPlaceholder}`;
  return { text, values: [...where.params, query.limit] };
}

const VIA_OF =
  'SELECT host_id, via FROM reports.clients WHERE via IS NOT NULL AND host_id = ANY ($1::text[])';

// Oldest first through events_by_at: each batch is a short transaction of its own.
const DELETE_BEFORE = `DELETE FROM reports.events
  WHERE id IN (SELECT id FROM reports.events WHERE at < $1 ORDER BY at LIMIT $2)`;

export function postgresEventHistory(db: ReportsDatabase): PostgresEventHistory {
  return {
    async history(query) {
      const { text, values } = historySql(query);
      const events = await db.rows<StoredEvent>(text, values);
      // Tiered mirrors: events of hosts behind a branch say which (one lookup per page).
      const hosts = [...new Set(events.map((e) => e.hostId))];
      const via = new Map(hosts.length === 0 ? [] : await db.arrays<[string, string]>(VIA_OF, [hosts]));
      if (via.size === 0) return events;
      return events.map((e) => {
        const branch = via.get(e.hostId);
        return branch === undefined ? e : { ...e, via: branch };
      });
    },

    eventCursor: async (id) =>
      (
        await db.rows<{ at: string; id: number }>('SELECT at, id FROM reports.events WHERE id = $1', [id])
      )[0] ?? null,

    async deleteEventsBefore(cutoff, batchSize) {
      let deleted = 0;
      for (;;) {
        const gone = (
          await db.statement<{ id: number }>('deleting expired events', `${DELETE_BEFORE} RETURNING id`, [
            cutoff,
            batchSize,
          ])
        ).length;
        deleted += gone;
        if (gone < batchSize) return deleted;
      }
    },
  };
}
