// The throwaway cluster helper itself: it starts, takes connections on loopback, creates
// databases of their own, and survives a restart with what was committed.
import t from 'tap';
import pg from 'pg';
import { startPostgres } from './helpers/postgres.js';

t.test('a throwaway cluster starts, keeps what was committed across a restart, and is removed', async (t) => {
  const cluster = await startPostgres(t);
  if (!cluster) return;
  const url = await cluster.createDatabase('helper_check');
  t.match(url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/helper_check$/);
  const write = new pg.Client({ connectionString: url });
  await write.connect();
  await write.query('CREATE TABLE kept (v integer)');
  await write.query('INSERT INTO kept VALUES (42)');
  await write.end();
  await cluster.restart();
  const read = new pg.Client({ connectionString: url });
  await read.connect();
  const { rows } = await read.query<{ v: number }>('SELECT v FROM kept');
  await read.end();
  t.same(rows, [{ v: 42 }]);
});
