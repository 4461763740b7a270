// The stores of one server share one pool on database.url: a store that closes gives its use
// back and never ends the pool under another store; the last one ends it.
import t from 'tap';
import { acquireSharedPool } from '../src/database/postgres-pool.js';
import { startPostgres } from '../../../test/helpers/postgres.js';

const cluster = await startPostgres(t);

t.test('one pool per URL, ended by its last user', { skip: !cluster }, async (t) => {
  const url = await cluster!.createDatabase('shared_pool');
  const reports = await acquireSharedPool(url, { poolSize: 2 });
  const tokens = await acquireSharedPool(url, { poolSize: 2 });
  t.equal(tokens.pool, reports.pool, 'the second store gets the same pool');
  await reports.release();
  await reports.release(); // a second release of the same use changes nothing
  t.same((await tokens.pool.query<{ one: number }>('SELECT 1 AS one')).rows, [{ one: 1 }], 'still open');
  await tokens.release();
  t.ok(tokens.pool.ended, 'the last release ends it');
  const again = await acquireSharedPool(url, { poolSize: 2 });
  t.not(again.pool, tokens.pool, 'a later store opens a new one');
  await again.release();
});

t.test('an unreachable database fails the acquire and leaves nothing behind', async (t) => {
  const url = 'postgres://postgres@127.0.0.1:1/none';
  await t.rejects(acquireSharedPool(url), { code: 'PB_ERR_DATABASE' });
  await t.rejects(acquireSharedPool(url), { code: 'PB_ERR_DATABASE' }, 'tried again, not a cached failure');
});
