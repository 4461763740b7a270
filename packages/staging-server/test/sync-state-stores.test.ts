// The sync state on both backends: keyv over <dataDir>/state.sqlite and keyv over PostgreSQL
// (@keyv/postgres, database.url). One suite, run against each; PostgreSQL is a throwaway
// cluster for this file, a database of its own per case.
import pg from 'pg';
import t, { type Test } from 'tap';
import { startPostgres } from '../../../test/helpers/postgres.js';
import type { SyncReport } from '../src/mirror.js';
import { SyncStateStore } from '../src/store/sync-state.js';
import { SYNC_STATE_TABLE } from '../src/store/keyv-postgres.js';
import { storeBackends, type StoreBackend } from './fixtures/store-backends.js';

const cluster = await startPostgres(t);

/** Opens another store on the same state (another process, another replica); closed at teardown. */
type OpenState = () => Promise<SyncStateStore>;

async function place(t: Test, backend: StoreBackend): Promise<OpenState> {
  const config = await backend.config(t);
  return async () => {
    const state = await SyncStateStore.open(config);
    t.teardown(() => state.close());
    return state;
  };
}

function syncReport(outcome: SyncReport['outcome'], upstreamSequence: number): SyncReport {
  return {
    startedAt: '2026-12-01T08:00:00.000Z',
    finishedAt: '2026-12-01T08:00:01.000Z',
    outcome,
    error: outcome === 'failed' ? 'upstream: 503' : null,
    upstreamSequence,
    heldBack: outcome === 'partial' ? [{ patchId: 'X', error: 'file x: digest mismatch' }] : [],
    notModified: false,
    published: outcome !== 'failed',
    filesFetched: 3,
    bytesFetched: 1024,
  };
}

for (const backend of storeBackends(cluster, 'sync_state')) {
  t.test(backend.name, async (t) => {
    t.test('every key round-trips and survives closing and reopening', async (t) => {
      const open = await place(t, backend);
      const state = await open();
      t.same(await state.validators(), {});
      t.equal(await state.lastAcceptedSequence(), undefined);
      t.equal(await state.mirrorSequence(), 0);
      t.equal(await state.lastSync(), undefined);
      t.equal(await state.lastUpdate(), undefined);

      await state.recordAcceptedFeed(7, { etag: '"abc"', lastModified: 'Tue, 01 Dec 2026 08:00:00 GMT' });
      await state.setMirrorSequence(4);
      const partial = syncReport('partial', 7);
      await state.setLastSync(partial);
      const failed = syncReport('failed', 7);
      await state.setLastSync(failed);
      await state.close();

      const reopened = await open();
      t.same(await reopened.validators(), { etag: '"abc"', lastModified: 'Tue, 01 Dec 2026 08:00:00 GMT' });
      t.equal(await reopened.lastAcceptedSequence(), 7);
      t.equal(await reopened.mirrorSequence(), 4);
      t.same(await reopened.lastSync(), failed);
      t.same(await reopened.lastUpdate(), partial, 'a failed sync keeps the last update');
      await reopened.recordAcceptedFeed(8, { etag: '"def"' });
      t.same(await reopened.validators(), { etag: '"def"' }, 'validators replaced, not merged');
    });

    t.test("two stores on the same state see each other's writes at once", async (t) => {
      const open = await place(t, backend);
      const [leader, replica] = [await open(), await open()];
      await leader.setMirrorSequence(12);
      t.equal(await replica.mirrorSequence(), 12);
      const ok = syncReport('ok', 9);
      await leader.setLastSync(ok);
      t.same(await replica.lastSync(), ok);
      t.same(await replica.lastUpdate(), ok);
      await replica.setMirrorSequence(13);
      t.equal(await leader.mirrorSequence(), 13);
    });
  });
}

t.test('postgres only', { skip: cluster ? false : 'no PostgreSQL here' }, async (t) => {
  const pgCluster = cluster!;

  t.test('a PostgreSQL restart between writes: the next write commits, nothing is lost', async (t) => {
    const url = await pgCluster.createDatabase('sync_state_restart');
    const state = await SyncStateStore.open({ dataDir: t.testdir(), database: { url } });
    t.teardown(() => state.close());
    await state.setMirrorSequence(1);
    await state.recordAcceptedFeed(5, { etag: '"five"' });
    await pgCluster.restart();
    await state.setMirrorSequence(2);
    t.equal(await state.mirrorSequence(), 2);
    t.equal(await state.lastAcceptedSequence(), 5, 'what was committed before the restart is there');
    const other = await SyncStateStore.open({ dataDir: t.testdir(), database: { url } });
    t.teardown(() => other.close());
    t.equal(await other.mirrorSequence(), 2, 'and another process reads it');
  });

  t.test('a stopped PostgreSQL fails the write: it is never reported as done', async (t) => {
    const url = await pgCluster.createDatabase('sync_state_down');
    const state = await SyncStateStore.open({ dataDir: t.testdir(), database: { url } });
    t.teardown(() => state.close());
    await state.setMirrorSequence(1);
    await pgCluster.stop();
    try {
      await t.rejects(state.setMirrorSequence(2), { code: 'PB_ERR_DATABASE' });
    } finally {
      await pgCluster.start();
    }
    t.equal(await state.mirrorSequence(), 1);
  });

  t.test('closing one store leaves another of the same process working', async (t) => {
    // @keyv/postgres's own pool is one per process: its disconnect() would end the other's.
    const url = await pgCluster.createDatabase('sync_state_two_pools');
    const mirror = await SyncStateStore.open({ dataDir: t.testdir(), database: { url } });
    t.teardown(() => mirror.close());
    const importRun = await SyncStateStore.open({ dataDir: t.testdir(), database: { url } });
    await importRun.setMirrorSequence(3);
    await importRun.close();
    await mirror.setMirrorSequence(4);
    t.equal(await mirror.mirrorSequence(), 4);
  });

  t.test('replicas starting at once on a fresh database all open it; one keyv table, migrated', async (t) => {
    const url = await pgCluster.createDatabase('sync_state_at_once');
    const config = { dataDir: t.testdir(), database: { url } };
    const states = await Promise.all(Array.from({ length: 6 }, () => SyncStateStore.open(config)));
    t.teardown(() => Promise.all(states.map((s) => s.close())));
    await states[0]!.setMirrorSequence(21);
    for (const state of states) t.equal(await state.mirrorSequence(), 21);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.teardown(() => client.end());
    const { rows } = await client.query(`SELECT key, value FROM ${SYNC_STATE_TABLE}`);
    t.same(
      rows,
      [{ key: 'patchbay-sync:mirror.sequence', value: '{"value":21}' }],
      "keyv's layout and namespace",
    );
    const schema = await client.query("SELECT version FROM patchbay_schema WHERE component = 'sync-state'");
    t.same(schema.rows, [{ version: 1 }]);
  });
});
