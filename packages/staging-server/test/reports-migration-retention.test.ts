import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ReportStore, REPORTS_FILE } from '../src/reports/report-store.js';
import { SCHEMA_VERSION } from '../src/reports/sqlite/migrations.js';
import { openSqliteReportStore } from '../src/reports/sqlite/sqlite-report-store.js';
import type { HistoryQuery } from '../src/reports/types.js';
import { report } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';

// The reports.sqlite layout of the first release (user_version 1), verbatim.
const OLD_DDL = `
CREATE TABLE clients (
  hostId TEXT PRIMARY KEY NOT NULL, hostname TEXT NOT NULL, platform TEXT NOT NULL,
  daemonVersion TEXT NOT NULL, products TEXT NOT NULL, lastSeenAt TEXT NOT NULL,
  reportedAt TEXT NOT NULL, lastReport TEXT NOT NULL, pendingReboot INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX clients_by_last_seen ON clients (lastSeenAt);
CREATE TABLE client_patches (
  hostId TEXT NOT NULL REFERENCES clients (hostId) ON DELETE CASCADE,
  patchId TEXT NOT NULL, state TEXT NOT NULL, since TEXT, reason TEXT,
  PRIMARY KEY (hostId, patchId)
) WITHOUT ROWID;
CREATE INDEX client_patches_by_patch ON client_patches (patchId, state);
CREATE TABLE events (
  id INTEGER PRIMARY KEY, hostId TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
  patchId TEXT, at TEXT NOT NULL, outcome TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
  receivedAt TEXT NOT NULL, UNIQUE (hostId, seq)
);
CREATE INDEX events_by_at ON events (at);
CREATE INDEX events_by_host ON events (hostId, at);
CREATE INDEX events_by_patch ON events (patchId, at);
CREATE INDEX events_by_type ON events (type, at);
PRAGMA user_version = 1;
`;

const columnsOf = (file: string, table: string): string[] => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  } finally {
    db.close();
  }
};

t.test('a reports.sqlite of the old schema is migrated in place, its data kept', async (t) => {
  const dir = t.testdir();
  const file = join(dir, REPORTS_FILE);
  const old = new Database(file);
  old.exec(OLD_DDL);
  old
    .prepare(
      `INSERT INTO clients VALUES ('old-host', 'old-host.corp', 'linux', '0.0.9',
       '[{"id":"arcserve-backup","release":"19.0"}]', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '{}', 0)`,
    )
    .run();
  old.prepare(`INSERT INTO client_patches VALUES ('old-host', 'P1', 'downloaded', NULL, NULL)`).run();
  old
    .prepare(
      `INSERT INTO events (hostId, seq, type, patchId, at, outcome, receivedAt)
       VALUES ('old-host', 1, 'install', 'P1', '2026-01-01T00:00:00.000Z', 'ok', '2026-01-01T00:00:00.000Z')`,
    )
    .run();
  old.close();
  t.notOk(columnsOf(file, 'client_patches').includes('cached'), 'the old file has no cached column');

  const store = await ReportStore.open(dir);
  t.ok(columnsOf(file, 'client_patches').includes('cached'), 'cached column added');
  t.same((await store.getClient('old-host'))?.patches, [{ id: 'P1', state: 'downloaded' }], 'old rows kept');
  t.same(
    (await store.cachedPatches()).map((r) => [r.hostId, r.patchId, r.state, r.cached]),
    [['old-host', 'P1', 'downloaded', null]],
    "a 'downloaded' row of an old client counts as cached",
  );
  // version 5: the per-patch state counters start from the rows already there
  t.same(await store.patchStateCounts(), new Map([['P1', new Map([['downloaded', 1]])]]));
  // version 6: so do the per-host ones
  t.match(await store.listClients(), [{ hostId: 'old-host', installed: 0, missing: 1, failed: 0 }]);
  t.equal(
    (await store.history({ installsOnly: true, limit: 10 })).length,
    1,
    'the installs index serves old events',
  );
  // version 4: old events belong to no instance, keep their id, and old clients' resends still dedupe
  t.match(await store.history({ host: 'old-host', limit: 10 }), [
    { id: 1, seq: 1, instanceId: '', output: null },
  ]);
  const oldEvent = {
    seq: 1,
    type: 'install' as const,
    patchId: 'P1',
    at: '2026-01-01T00:00:00.000Z',
    outcome: 'ok',
    message: '',
  };
  t.equal(
    (await store.ingest(report('old-host', { events: [oldEvent] }))).accepted,
    0,
    'a resend of an old client',
  );
  t.equal(
    (
      await store.ingest(
        report('old-host', {
          instanceId: 'dddddddd-0000-4000-8000-000000000004',
          events: [{ ...oldEvent, at: '2026-11-24T09:00:00.000Z' }],
        }),
      )
    ).accepted,
    1,
    'seq 1 of a new instance of the host is stored',
  );
  t.ok(columnsOf(file, 'clients').includes('instanceId'));
  await store.ingest(
    report('new-host', {
      patches: [{ id: 'P1', state: 'installed', since: '2026-11-24T09:00:00Z', cached: true }],
    }),
  );
  await store.close();

  const db = new Database(file, { readonly: true });
  t.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION, 'user_version raised');
  db.close();

  // Opening again is a no-op: the migration does not run twice (ADD COLUMN would fail).
  const reopened = await ReportStore.open(dir);
  t.teardown(() => reopened.close());
  t.same((await reopened.getClient('new-host'))?.patches, [
    { id: 'P1', state: 'installed', since: '2026-11-24T09:00:00Z', cached: true },
  ]);
});

t.test('a file from a newer server is refused, not downgraded', async (t) => {
  const dir = t.testdir();
  const db = new Database(join(dir, REPORTS_FILE));
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  await t.rejects(ReportStore.open(dir), { code: 'PB_ERR_CONFIG', message: /newer than this server/ });
});

t.test('new filters stay index-served: until, installs, severity, release', async (t) => {
  // The SQLite store itself: the test reads its query plans.
  const store = openSqliteReportStore(join(t.testdir(), REPORTS_FILE));
  t.teardown(() => store.close());
  await store.recordPatchFacts([patch('P0'), patch('P1', { severity: 'optional', release: '18.0' })]);
  const reports = [];
  for (let h = 0; h < 50; h++)
    reports.push(
      report(`host-${h}`, {
        events: Array.from({ length: 5 }, (_, i) => ({
          seq: i + 1,
          type: (['check', 'download', 'install', 'uninstall', 'error'] as const)[i] ?? 'check',
          patchId: `P${(h + i) % 2}`,
          at: new Date(Date.UTC(2026, 10, 1) + (h * 5 + i) * 60_000).toISOString(),
          outcome: 'ok',
        })),
      }),
    );
  await store.ingestMany(reports);
  const since = '2026-11-01T01:00:00.000Z';
  const until = '2026-11-01T03:00:00.000Z';
  const cases: [string, HistoryQuery, RegExp][] = [
    ['until', { until, limit: 100 }, /SEARCH events USING INDEX events_by_at \(at<\?\)/],
    ['since + until', { since, until, limit: 100 }, /USING INDEX events_by_at \(at>\? AND at<\?\)/],
    [
      'host + until',
      { host: 'host-3', until, limit: 100 },
      /USING INDEX events_by_host \(hostId=\? AND at<\?\)/,
    ],
    [
      'patch + until',
      { patch: 'P1', until, limit: 100 },
      /USING INDEX events_by_patch \(patchId=\? AND at<\?\)/,
    ],
    [
      'type + until',
      { type: 'error', until, limit: 100 },
      /USING INDEX events_by_type \(type=\? AND at<\?\)/,
    ],
    ['installs', { installsOnly: true, limit: 100 }, /USING INDEX events_installs/],
    ['installs + until', { installsOnly: true, until, limit: 100 }, /USING INDEX events_installs \(at<\?\)/],
    ['installs + host', { installsOnly: true, host: 'host-3', limit: 100 }, /USING INDEX events_by_host/],
    ['installs + patch', { installsOnly: true, patch: 'P1', limit: 100 }, /USING INDEX events_by_patch/],
    ['severity', { severity: 'critical', limit: 100 }, /USING INDEX events_by_at/],
    ['release + host', { release: '18.0', host: 'host-3', limit: 100 }, /USING INDEX events_by_host/],
    [
      'installs + severity',
      { installsOnly: true, severity: 'optional', limit: 100 },
      /USING INDEX events_installs/,
    ],
  ];
  for (const [name, query, expected] of cases) {
    const plan = store.explainHistory(query).join(' | ');
    t.match(plan, expected, `${name}: ${plan}`);
    t.notMatch(plan, /SCAN events(?! USING)/, `${name}: no table scan`);
    t.notMatch(plan, /TEMP B-TREE/, `${name}: no sort`);
  }

  // and the answers are right, against a brute-force filter
  const all = await store.history({ limit: 10_000 });
  const expect = (pred: (e: (typeof all)[number]) => boolean) => all.filter(pred).map((e) => e.id);
  const ids = async (q: HistoryQuery) => (await store.history(q)).map((e) => e.id);
  t.same(
    await ids({ until, limit: 1000 }),
    expect((e) => e.at < until),
  );
  t.same(
    await ids({ since, until, limit: 1000 }),
    expect((e) => e.at >= since && e.at < until),
  );
  t.same(
    await ids({ installsOnly: true, limit: 1000 }),
    expect((e) => e.type === 'install' || e.type === 'uninstall'),
  );
  t.same(
    await ids({ severity: 'optional', limit: 1000 }),
    expect((e) => e.patchId === 'P1'),
  );
  t.same(
    await ids({ release: '19.0', installsOnly: true, limit: 1000 }),
    expect((e) => e.patchId === 'P0' && (e.type === 'install' || e.type === 'uninstall')),
  );
  t.same(await ids({ severity: 'recommended', limit: 1000 }), [], 'no patch of that severity');

  const cachedPlan = store.explainCachedPatches().join(' | ');
  t.match(cachedPlan, /client_patches_cached/, `cached report uses its partial index: ${cachedPlan}`);
});
