import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Keyv } from 'keyv';
import t from 'tap';
import { KeyvBetterSqlite } from '../src/store/keyv-better-sqlite.js';
import { STATE_FILE_NAME, SyncStateStore } from '../src/store/sync-state.js';

t.test(
  'reads a state.sqlite written in the @keyv/sqlite layout (data dirs from older releases)',
  async (t) => {
    const dir = t.testdir();
    const path = join(dir, STATE_FILE_NAME);
    // Exactly what @keyv/sqlite 4 created and Keyv 5 wrote for the mirror sequence.
    const old = new Database(path);
    old.exec('CREATE TABLE IF NOT EXISTS keyv(key VARCHAR(255) PRIMARY KEY, value TEXT )');
    old
      .prepare('INSERT INTO keyv (key, value) VALUES (?, ?)')
      .run('patchbay-sync:mirror.sequence', '{"value":41}');
    old.close();

    const state = await SyncStateStore.open({ dataDir: dir });
    t.equal(await state.mirrorSequence(), 41);
    await state.setMirrorSequence(42);
    await state.close();

    const reopened = await SyncStateStore.open({ dataDir: dir });
    t.equal(await reopened.mirrorSequence(), 42, 'a write survives closing and reopening');
    await reopened.close();
  },
);

t.test('get, set, has, delete, and clear only within its namespace', async (t) => {
  const path = join(t.testdir(), 'kv.sqlite');
  const a = new Keyv({ store: new KeyvBetterSqlite({ path }), namespace: 'a', throwOnErrors: true });
  const b = new Keyv({ store: new KeyvBetterSqlite({ path }), namespace: 'b', throwOnErrors: true });
  await a.set('k', { n: 1 });
  await b.set('k', 'other');
  t.same(await a.get('k'), { n: 1 });
  t.equal(await a.has('k'), true);
  t.equal(await a.has('missing'), false);
  t.equal(await a.delete('missing'), false);
  await a.clear();
  t.equal(await a.get('k'), undefined, 'cleared');
  t.equal(await b.get('k'), 'other', "another namespace's keys survive clear()");
  t.equal(await b.delete('k'), true);
  t.equal(await b.get('k'), undefined);
  await a.disconnect();
  await b.disconnect();
});

t.test('a state directory that cannot hold the database fails at open, naming the cause', async (t) => {
  await t.rejects(SyncStateStore.open({ dataDir: join(t.testdir(), 'no', 'such', 'dir') }), {
    message: /directory does not exist|unable to open/i,
  });
});
