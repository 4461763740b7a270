// The PostgreSQL report store where it differs from SQLite: several stores (replicas) on one
// database, a PostgreSQL restart under it, a transaction that fails half-way, what an ingest
// writes, and the migrations themselves. What every store must do is in
// report-store-contract.test.ts.
import t, { type Test } from 'tap';
import pg from 'pg';
import { migratePostgres } from '../src/database/postgres-migrations.js';
import { inTransaction, openPostgresPool } from '../src/database/postgres-pool.js';
import { historySql } from '../src/reports/postgres/history.js';
import { openPostgresReportStore } from '../src/reports/postgres/postgres-report-store.js';
import { ReportsDatabase } from '../src/reports/postgres/reports-database.js';
import type { HistoryQuery } from '../src/reports/types.js';
import { startPostgres, type PostgresCluster } from '../../../test/helpers/postgres.js';
import { report } from './fixtures/http-harness.js';
import { freshDatabase, openPostgresStore } from './fixtures/postgres-report-store.js';

const cluster = await startPostgres(t);

const check = (seq: number, at = '2026-11-24T10:00:00.000Z') => ({
  seq,
  type: 'check' as const,
  at,
  outcome: 'ok',
  message: '',
});

async function rowsOf<R>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as R[];
  } finally {
    await client.end();
  }
}

/** A pool on a fresh database of the cluster, ended when `t` ends. */
async function freshPool(t: Test, cluster: PostgresCluster): Promise<{ url: string; pool: pg.Pool }> {
  const url = await freshDatabase(cluster, 'pg_store');
  const pool = await openPostgresPool(url, { poolSize: 2 });
  t.teardown(() => pool.end());
  return { url, pool };
}

/** Terminate the backend `pid` of `client` from another connection; resolves once `client` saw its connection end. */
async function cutConnection(url: string, client: pg.ClientBase, pid: number): Promise<void> {
  const ended = new Promise((resolve) => client.once('end', resolve));
  await rowsOf(url, `SELECT pg_terminate_backend(${pid})`);
  await ended;
}

if (cluster) {
  t.test('two stores opening one database at once migrate it once', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const [a, b] = await Promise.all([openPostgresStore(t, url), openPostgresStore(t, url)]);
    t.same(
      await rowsOf(url, "SELECT version FROM patchbay_schema WHERE component = 'reports' ORDER BY version"),
      [{ version: 1 }, { version: 2 }, { version: 3 }],
    );
    await a.store.ingest(report('h-a'));
    await b.store.ingest(report('h-b'));
    t.same(
      (await a.store.listClients()).map((c) => c.hostId),
      ['h-a', 'h-b'],
      'both write the same tables',
    );
  });

  t.test("a database whose reports schema is newer than this release's is refused", async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    await openPostgresStore(t, url);
    await rowsOf(
      url,
      "INSERT INTO patchbay_schema (component, version, why) VALUES ('reports', 4, 'a later release')",
    );
    const pool = await openPostgresPool(url);
    t.teardown(() => pool.end());
    await t.rejects(openPostgresReportStore(pool), {
      code: 'PB_ERR_DATABASE',
      message: /reports schema is version 4, newer than this release knows \(3\)/,
    });
  });

  t.test(
    'versions 2 and 3 build the per-patch and per-host counters from the rows already stored',
    async (t) => {
      const url = await freshDatabase(cluster, 'pg_store');
      const first = await openPostgresStore(t, url);
      await first.store.ingestMany([
        report('h-1', {
          patches: [
            { id: 'P1', state: 'installed' },
            { id: 'P2', state: 'failed' },
          ],
        }),
        report('h-2', { patches: [{ id: 'P1', state: 'installed' }] }),
      ]);
      // The database as version 1 left it: rows, no counters.
      await rowsOf(
        url,
        `DROP TABLE reports.patch_state_counts;
       DROP INDEX reports.clients_by_profile, reports.clients_pending_reboot, reports.clients_states;
       ALTER TABLE reports.clients DROP COLUMN installed, DROP COLUMN failed, DROP COLUMN missing,
         DROP COLUMN superseded;
       DELETE FROM patchbay_schema WHERE component = 'reports' AND version IN (2, 3)`,
      );
      const { store } = await openPostgresStore(t, url);
      t.same(
        await store.patchStateCounts(),
        new Map([
          ['P1', new Map([['installed', 2]])],
          ['P2', new Map([['failed', 1]])],
        ]),
      );
      t.same(
        (await store.listClients()).map((c) => [c.hostId, c.installed, c.missing, c.failed]),
        [
          ['h-1', 1, 0, 1],
          ['h-2', 1, 0, 0],
        ],
      );
    },
  );

  t.test('a report sent to two replicas at the same moment is stored once', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const [a, b] = [(await openPostgresStore(t, url)).store, (await openPostgresStore(t, url)).store];
    for (let round = 0; round < 20; round++) {
      const body = report(`h-${round}`, {
        instanceId: 'aaaaaaaa-0000-4000-8000-000000000001',
        patches: [{ id: 'P1', state: 'installed' }],
        events: [check(1), check(2), check(3)],
      });
      const [x, y] = await Promise.all([a.ingest(body), b.ingest(structuredClone(body))]);
      t.equal(x.accepted + y.accepted, 3, `round ${round}: three events stored in all`);
      t.same([...x.conflicts, ...y.conflicts], [], 'and the other copy is a resend, not a conflict');
      t.equal([x.newInstance, y.newInstance].filter(Boolean).length, 1, 'one of them saw the new instance');
    }
    t.equal((await a.history({ limit: 1000 })).length, 60, 'each event once');
    // Shared commits on both, the same hosts in opposite orders: stored once, no deadlock.
    const many = Array.from({ length: 120 }, (_, i) => report(`m-${i}`, { events: [check(1)] }));
    const settled = await Promise.all([
      ...many.map((r) => a.ingestSoon(r)),
      ...[...many].reverse().map((r) => b.ingestSoon(structuredClone(r))),
    ]);
    t.equal(
      settled.reduce((sum, r) => sum + r.accepted, 0),
      120,
    );
    t.equal((await b.listClients()).length, 140);
  });

  t.test('two replicas moving the same per-patch counters at once keep them exact', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const [a, b] = [(await openPostgresStore(t, url)).store, (await openPostgresStore(t, url)).store];
    const ids = Array.from({ length: 8 }, (_, i) => `P${i}`);
    const states = ['installed', 'failed', 'missing'] as const;
    // Each host lists the patches in its own order; both replicas store batches of all of them.
    const batch = (round: number, hosts: number[]) =>
      hosts.map((h) =>
        report(`h-${h}`, {
          reportedAt: new Date(Date.UTC(2026, 10, 24, 10, round)).toISOString(),
          patches: (h % 2 === 0 ? ids : [...ids].reverse()).map((id, i) => ({
            id,
            state: states[(h + i + round) % 3]!,
          })),
        }),
      );
    const hosts = Array.from({ length: 40 }, (_, h) => h);
    for (let round = 0; round < 3; round++)
      await Promise.all([
        ...batch(round, hosts.slice(0, 20)).map((r) => a.ingestSoon(r)),
        ...batch(round, hosts.slice(20)).map((r) => b.ingestSoon(r)),
        a.ingestMany(batch(round, [40 + round])),
      ]);
    const recount = new Map<string, Map<string, number>>();
    for (const [patchId, byHost] of await a.allStates())
      for (const state of byHost.values()) {
        const counts = recount.get(patchId) ?? new Map<string, number>();
        recount.set(patchId, counts.set(state, (counts.get(state) ?? 0) + 1));
      }
    t.same(await b.patchStateCounts(), recount);
    t.equal(
      [...(await a.patchStateCounts()).get('P0')!.values()].reduce((x, y) => x + y, 0),
      43,
    );
  });

  t.test('revision() moves when another replica ingests', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const [a, b] = [(await openPostgresStore(t, url)).store, (await openPostgresStore(t, url)).store];
    const before = await b.revision();
    await a.ingest(report('h'));
    t.not(await b.revision(), before, "b sees a's ingest");
    t.equal(await a.revision(), await b.revision(), 'one revision for the database');
  });

  t.test('a PostgreSQL restart between two ingests: the second is stored, the first kept', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const { store } = await openPostgresStore(t, url);
    // Connections in the pool, idle: the restart breaks them under it.
    await Promise.all([
      store.ingest(report('before', { events: [check(1)] })),
      store.listClients(),
      store.history({ limit: 1 }),
    ]);
    await cluster.restart();
    t.equal((await store.ingest(report('after', { events: [check(1)] }))).accepted, 1);
    t.equal((await store.ingestSoon(report('soon', { events: [check(1)] }))).accepted, 1);
    t.same(
      (await store.listClients()).map((c) => c.hostId),
      ['after', 'before', 'soon'],
    );
    t.equal((await store.history({ limit: 10 })).length, 3, 'nothing committed before is lost');
  });

  t.test('an ingest that fails half-way stores nothing of its report', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const { store } = await openPostgresStore(t, url);
    await store.ingest(
      report('h', { patches: [{ id: 'P1', state: 'installed' }], events: [check(1)] }),
      '2026-11-24T10:00:00.000Z',
    );
    const revision = await store.revision();
    // seq 0 breaks the events' CHECK (REPORT_SCHEMA says seq >= 1): the last statement fails,
    // after the snapshot and the first event were written in the same transaction.
    const broken = report('h', {
      reportedAt: '2026-11-24T12:00:00Z',
      patches: [
        { id: 'P1', state: 'failed' },
        { id: 'P2', state: 'available' },
      ],
      events: [check(2), check(0)],
    });
    await t.rejects(store.ingest(broken, '2026-11-24T12:00:00.000Z'), {
      code: 'PB_ERR_DATABASE',
      message: /storing the report of host "h".*check constraint/,
    });
    const client = await store.getClient('h');
    t.same(client?.patches, [{ id: 'P1', state: 'installed' }], 'the snapshot is as it was');
    t.equal(client?.lastSeenAt, '2026-11-24T10:00:00.000Z');
    t.same(
      (await store.history({ limit: 10 })).map((e) => e.seq),
      [1],
      'no event of it',
    );
    t.equal(await store.revision(), revision, 'the revision bump went with it');
    await t.rejects(store.ingestSoon(report('new-host', { events: [check(0)] })));
    t.equal(await store.getClient('new-host'), null, 'a new host is not created');
  });

  t.test('a re-report writes only the patch rows that changed', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const { store } = await openPostgresStore(t, url);
    const patches = Array.from({ length: 5 }, (_, i) => ({ id: `P${i}`, state: 'installed' as const }));
    await store.ingest(report('h', { patches }));
    // xmin: the transaction that wrote the row version; an untouched row keeps it.
    const versions = async () =>
      new Map(
        (
          await rowsOf<{ patch_id: string; xmin: string }>(
            url,
            "SELECT patch_id, xmin::text FROM reports.client_patches WHERE host_id = 'h'",
          )
        ).map((r) => [r.patch_id, r.xmin]),
      );
    const first = await versions();
    await store.ingest(
      report('h', { reportedAt: '2026-11-24T11:00:00Z', patches }),
      '2026-11-24T11:00:00.000Z',
    );
    t.same(await versions(), first, 'the same states again: no row written');
    t.equal((await store.getClient('h'))?.lastSeenAt, '2026-11-24T11:00:00.000Z', 'the host was seen');
    await store.ingest(
      report('h', {
        reportedAt: '2026-11-24T12:00:00Z',
        patches: [...patches.slice(0, 3), { id: 'P3', state: 'failed' as const }],
      }),
    );
    const third = await versions();
    t.same([...third.keys()].sort(), ['P0', 'P1', 'P2', 'P3'], 'P4 went away');
    t.same(
      ['P0', 'P1', 'P2'].map((p) => third.get(p)),
      ['P0', 'P1', 'P2'].map((p) => first.get(p)),
      'unchanged rows untouched',
    );
    t.not(third.get('P3'), first.get('P3'), 'the changed one rewritten');
  });

  t.test('text PostgreSQL cannot hold (U+0000) is stored as U+FFFD; a resend stays a resend', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const { store } = await openPostgresStore(t, url);
    const body = report('h', { events: [{ ...check(1), message: 'a\u0000b', output: '\u0000' }] });
    t.equal((await store.ingest(body)).accepted, 1);
    t.match(await store.history({ limit: 1 }), [{ message: 'a\uFFFDb', output: '\uFFFD' }]);
    t.same(await store.ingest(body), { accepted: 0, stored: [], snapshotReplaced: true, conflicts: [] });
  });

  t.test('migratePostgres: steps once each, all pending ones in one transaction', async (t) => {
    const { url, pool } = await freshPool(t, cluster);
    const one = { version: 1, why: 'a table', sql: 'CREATE TABLE probe_one (v integer)' };
    const broken = { version: 2, why: 'a typo', sql: 'CREATE TABEL probe_two (v integer)' };
    await t.rejects(migratePostgres(pool, 'probe', [one, broken]), { code: '42601' });
    t.same(
      await rowsOf(url, "SELECT to_regclass('probe_one') IS NULL AS absent"),
      [{ absent: true }],
      'the step before the failing one is undone too',
    );
    t.same(await migratePostgres(pool, 'probe', [one]), { from: 0, to: 1 });
    t.same(await migratePostgres(pool, 'probe', [one]), { from: 1, to: 1 }, 'nothing to do the second time');
    t.same(await migratePostgres(pool, 'other', []), { from: 0, to: 0 }, 'components are apart');
  });
}

if (cluster) {
  t.test('every history filter walks an index in the cursor order, without a sort', async (t) => {
    const url = await freshDatabase(cluster, 'pg_store');
    const { store } = await openPostgresStore(t, url);
    await store.ingestMany(
      Array.from({ length: 50 }, (_, h) =>
        report(`host-${h}`, {
          events: (['check', 'download', 'install', 'uninstall', 'error'] as const).map((type, i) => ({
            ...check(i + 1, new Date(Date.UTC(2026, 10, 1) + (h * 5 + i) * 60_000).toISOString()),
            type,
            patchId: `P${(h + i) % 7}`,
          })),
        }),
      ),
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.teardown(() => client.end());
    await client.query('ANALYZE');
    // A table this small is cheaper to scan: forbid that, and sorting, to see the paths the indexes give.
    await client.query('SET enable_seqscan = off');
    await client.query('SET enable_sort = off');
    const plan = async (query: HistoryQuery) => {
      const { text, values } = historySql(query);
      return (await client.query({ text: `EXPLAIN ${text}`, values, rowMode: 'array' })).rows.join(' | ');
    };
    const since = '2026-11-01T02:00:00.000Z';
    const before = { at: '2026-11-01T03:00:00.000Z', id: 180 };
    const cases: [string, HistoryQuery, RegExp][] = [
      ['no filter', { limit: 100 }, /Backward using events_by_at/],
      ['host', { host: 'host-3', limit: 100 }, /Backward using events_by_host/],
      ['patch', { patch: 'P2', limit: 100 }, /Backward using events_by_patch/],
      ['type', { type: 'error', limit: 100 }, /Backward using events_by_type/],
      ['installs', { installsOnly: true, limit: 100 }, /Backward using events_installs/],
      ['since', { since, limit: 100 }, /Backward using events_by_at/],
      ['host + since', { host: 'host-3', since, limit: 100 }, /Backward using events_by_host/],
      ['cursor', { before, limit: 100 }, /Backward using events_by_at/],
      ['host + cursor', { host: 'host-3', before, limit: 100 }, /Backward using events_by_host/],
      ['severity', { severity: 'critical', limit: 100 }, /Backward using events_by_at/],
    ];
    for (const [name, query, expected] of cases) {
      const shown = await plan(query);
      t.match(shown, expected, `${name}: ${shown}`);
      t.notMatch(shown, /Sort|Seq Scan on events/, `${name}: no sort, no scan`);
    }
  });
}

if (cluster) {
  t.test(
    'a connection cut between two statements of a transaction: run again, nothing thrown uncaught',
    async (t) => {
      const { url, pool } = await freshPool(t, cluster);
      const acquired: pg.PoolClient[] = [];
      pool.on('acquire', (client) => acquired.push(client));
      const db = new ReportsDatabase(pool);
      let attempts = 0;
      const answer = await db.transaction('a probe', async (sql) => {
        attempts += 1;
        const [{ pid }] = await sql.rows<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        if (attempts === 1) {
          // the connection goes while no statement runs on it
          await cutConnection(url, acquired.at(-1)!, pid);
        }
        return (await sql.rows<{ one: number }>('SELECT 1 AS one'))[0]?.one;
      });
      t.equal(answer, 1);
      t.equal(attempts, 2, 'the first attempt failed at its next statement and was run again');
    },
  );
}

if (cluster) {
  t.test(
    'inTransaction: a connection cut between two statements rejects, nothing thrown uncaught',
    async (t) => {
      const { url, pool } = await freshPool(t, cluster);
      const work = inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await cutConnection(url, client, rows[0]!.pid);
        await client.query('SELECT 1');
      });
      await t.rejects(work, /not queryable|Connection terminated/);
      t.same((await pool.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the pool serves a fresh connection');
    },
  );
}
