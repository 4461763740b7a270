// The event history: events matching the filters, newest first, paged by (at, id), each
// filter answered by its index (schema.ts says which); and its retention, oldest first.
import type Database from 'better-sqlite3';
import type { EventHistory } from '../report-store-api.js';
import type { HistoryQuery, StoredEvent } from '../types.js';
import { valuesByHost } from './client-rows.js';
import { Conditions, type FilteredStatements } from './filtered-sql.js';

const INSTALL_TYPES = "type IN ('install', 'uninstall')";

export interface SqliteEventHistory extends EventHistory {
  /** The plan SQLite chooses for a history query (the index evidence in the tests). */
  explainHistory(query: HistoryQuery): string[];
}

/** Build the history SELECT: only the filters given, so SQLite can pick the index for them. */
function historySql(query: HistoryQuery): { sql: string; params: (string | number)[] } {
  // Installs without a host or patch filter walk the partial index of installs, which
  // the planner would otherwise pass over for two ranges of events_by_type and a sort.
  const installsOnly = query.installsOnly === true && query.type === undefined;
  const indexedBy = installsOnly && query.host === undefined && query.patch === undefined;
  const where = new Conditions()
    .whenSet('hostId = ?', query.host)
    .whenSet('patchId = ?', query.patch)
    .whenSet('type = ?', query.type);
  if (installsOnly) where.add(INSTALL_TYPES);
  // Severity and release are facts of the patch, checked per event against patch_facts
  // (a Bloom filter). The unary + keeps SQLite from answering through events_by_patch
  // with one range per patch and a sort: the walk stays on the time (or host, patch,
  // installs) index, newest first, and stops after LIMIT matches.
  const facts = new Conditions()
    .whenSet('severity = ?', query.severity)
    .whenSet('release = ?', query.release);
  if (!facts.empty)
    where.add(`+patchId IN (SELECT patchId FROM patch_facts WHERE ${facts.toSql()})`, ...facts.params);
  where.whenSet('at >= ?', query.since).whenSet('at < ?', query.until);
  if (query.before !== undefined) where.add('(at, id) < (?, ?)', query.before.at, query.before.id);
  const sql =
    'SELECT id, hostId, seq, type, patchId, at, outcome, message, receivedAt, instanceId, output FROM events' +
    (indexedBy ? ' INDEXED BY events_installs' : '') +
    (where.empty ? '' : ` WHERE ${where.toSql()}`) +
    ' ORDER BY at DESC, id DESC LIMIT ?';
  return { sql, params: [...where.params, query.limit] };
}

function prepareStatements(db: Database.Database) {
  return {
    eventCursor: db.prepare<[number], { at: string; id: number }>('SELECT at, id FROM events WHERE id = ?'),
    // Tiered mirrors: the branch each of the given hosts reports through.
    viaOf: db
      .prepare<[string], [string, string]>(
        'SELECT hostId, via FROM clients WHERE via IS NOT NULL AND hostId IN (SELECT value FROM json_each(?))',
      )
      .raw(),
    // Oldest first through events_by_at: each batch is a short write transaction.
    deleteEventsBefore: db.prepare<[string, number]>(
      'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? ORDER BY at LIMIT ?)',
    ),
  };
}

export function sqliteEventHistory(db: Database.Database, filtered: FilteredStatements): SqliteEventHistory {
  const st = prepareStatements(db);

  return {
    async history(query) {
      const { sql, params } = historySql(query);
      const events = filtered.prepared(sql).all(...params) as StoredEvent[];
      // Tiered mirrors: events of hosts behind a branch say which (one lookup per page).
      const via = valuesByHost(
        st.viaOf,
        events.map((e) => e.hostId),
      );
      if (via.size === 0) return events;
      return events.map((e) => {
        const branch = via.get(e.hostId);
        return branch === undefined ? e : { ...e, via: branch };
      });
    },

    explainHistory(query) {
      const { sql, params } = historySql(query);
      return filtered.explain(sql, params);
    },

    eventCursor: async (id) => st.eventCursor.get(id) ?? null,

    async deleteEventsBefore(cutoff, batchSize) {
      let deleted = 0;
      for (;;) {
        const { changes } = st.deleteEventsBefore.run(cutoff, batchSize);
        deleted += changes;
        if (changes < batchSize) return deleted;
      }
    },
  };
}
