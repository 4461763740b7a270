import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { REPORTS_FILE } from '../src/reports/report-store.js';
import { openSqliteReportStore, type SqliteReportStore } from '../src/reports/sqlite/sqlite-report-store.js';
import type { HistoryQuery } from '../src/reports/types.js';
import { report } from './fixtures/http-harness.js';

/** The SQLite store itself: the index tests read its query plans. */
async function filledStore(dir: string): Promise<SqliteReportStore> {
  const store = openSqliteReportStore(join(dir, REPORTS_FILE));
  const reports = [];
  for (let h = 0; h < 50; h++) {
    reports.push(
      report(`host-${h}`, {
        events: Array.from({ length: 5 }, (_, i) => ({
          seq: i + 1,
          type: (['check', 'download', 'install', 'uninstall', 'error'] as const)[i] ?? 'check',
          patchId: `P${(h + i) % 7}`,
          at: new Date(Date.UTC(2026, 10, 1) + (h * 5 + i) * 60_000).toISOString(),
          outcome: 'ok',
          message: '',
        })),
      }),
    );
  }
  await store.ingestMany(reports);
  return store;
}

t.test('every history filter is answered from an index, newest first, without a sort', async (t) => {
  const store = await filledStore(t.testdir());
  t.teardown(() => store.close());
  const since = '2026-11-01T02:00:00.000Z';
  const before = { at: '2026-11-01T03:00:00.000Z', id: 180 };
  const cases: [string, HistoryQuery, RegExp][] = [
    ['no filter', { limit: 100 }, /USING INDEX events_by_at/],
    ['host', { host: 'host-3', limit: 100 }, /SEARCH events USING INDEX events_by_host \(hostId=\?\)/],
    ['patch', { patch: 'P2', limit: 100 }, /SEARCH events USING INDEX events_by_patch \(patchId=\?\)/],
    ['type', { type: 'install', limit: 100 }, /SEARCH events USING INDEX events_by_type \(type=\?\)/],
    ['since', { since, limit: 100 }, /SEARCH events USING INDEX events_by_at \(at>\?\)/],
    [
      'host + since',
      { host: 'host-3', since, limit: 100 },
      /USING INDEX events_by_host \(hostId=\? AND at>\?\)/,
    ],
    [
      'patch + since',
      { patch: 'P2', since, limit: 100 },
      /USING INDEX events_by_patch \(patchId=\? AND at>\?\)/,
    ],
    [
      'type + since',
      { type: 'error', since, limit: 100 },
      /USING INDEX events_by_type \(type=\? AND at>\?\)/,
    ],
    [
      'host + type',
      { host: 'host-3', type: 'check', limit: 100 },
      /SEARCH events USING INDEX events_by_(host|type)/,
    ],
    ['cursor', { before, limit: 100 }, /USING INDEX events_by_at/],
    ['host + cursor', { host: 'host-3', before, limit: 100 }, /USING INDEX events_by_host \(hostId=\?/],
  ];
  for (const [name, query, expected] of cases) {
    const plan = store.explainHistory(query).join(' | ');
    t.match(plan, expected, `${name}: ${plan}`);
    t.notMatch(plan, /SCAN events(?! USING)/, `${name}: no table scan`);
    t.notMatch(plan, /TEMP B-TREE/, `${name}: no sort`);
  }
});

t.test('a re-report writes only the patch rows that changed', async (t) => {
  const store = openSqliteReportStore(join(t.testdir(), REPORTS_FILE));
  t.teardown(() => store.close());
  const patches = Array.from({ length: 5 }, (_, i) => ({ id: `P${i}`, state: 'installed' as const }));
  await store.ingest(report('h', { patches }));
  // A second connection logs every write to client_patches (the counterpart of PostgreSQL's xmin test).
  const spy = new Database(store.file);
  t.teardown(() => spy.close());
  spy.exec(`
    CREATE TABLE patch_writes (kind TEXT, patchId TEXT);
    CREATE TRIGGER w_ins AFTER INSERT ON client_patches BEGIN INSERT INTO patch_writes VALUES ('insert', new.patchId); END;
    CREATE TRIGGER w_upd AFTER UPDATE ON client_patches BEGIN INSERT INTO patch_writes VALUES ('update', new.patchId); END;
    CREATE TRIGGER w_del AFTER DELETE ON client_patches BEGIN INSERT INTO patch_writes VALUES ('delete', old.patchId); END;
  `);
  const writes = () => spy.prepare('DELETE FROM patch_writes RETURNING kind, patchId').all();
  await store.ingest(
    report('h', { reportedAt: '2026-11-24T11:00:00Z', patches }),
    '2026-11-24T11:00:00.000Z',
  );
  t.same(writes(), [], 'the same states again: no row written');
  t.equal((await store.getClient('h'))?.lastSeenAt, '2026-11-24T11:00:00.000Z', 'the host was seen');
  await store.ingest(
    report('h', {
      reportedAt: '2026-11-24T12:00:00Z',
      patches: [
        ...patches.slice(0, 3),
        { id: 'P3', state: 'failed' as const },
        { id: 'P5', state: 'missing' as const },
      ],
    }),
  );
  t.same(
    writes().sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [
      { kind: 'delete', patchId: 'P4' },
      { kind: 'insert', patchId: 'P5' },
      { kind: 'update', patchId: 'P3' },
    ],
    'only the changed, the gone and the new row written',
  );
  t.same((await store.allStates()).get('P3'), new Map([['h', 'failed']]), 'the changed state stored');
});

t.test('the host view page is read through an index of clients, never a scan of its rows', async (t) => {
  const store = openSqliteReportStore(join(t.testdir(), REPORTS_FILE));
  t.teardown(() => store.close());
  await store.ingest(report('h', { patches: [{ id: 'P1', state: 'installed' }] }));
  const [profile] = await store.profileCounts();
  const profiles = [{ platform: profile!.platform, productsText: profile!.productsText, relevant: 3 }];
  for (const sort of ['behind', 'failed', 'hostId', 'lastSeenAt'] as const) {
    for (const everyHost of [false, true]) {
      const query = { profiles, everyHost, sort, order: 'desc' as const, offset: 0, limit: 100 };
      const plan = store.explainHostViewPage(query).join(' | ');
      // every host by its own key: that key's index alone (the primary key's, clients_by_last_seen)
      const profileFree = everyHost && (sort === 'hostId' || sort === 'lastSeenAt');
      const expected = profileFree
        ? /SCAN c USING (COVERING )?INDEX/
        : /SEARCH c USING (COVERING )?INDEX clients_by_profile/;
      t.match(plan, expected, `${sort}${everyHost ? ', every host' : ''}: ${plan}`);
      t.notMatch(plan, /SCAN c(?! USING)/, `${sort}: no scan of the clients rows`);
    }
  }
});
