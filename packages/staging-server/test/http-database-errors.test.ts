// A store error answers 503 only when PostgreSQL is out of reach (the host sends its report
// again and it is stored then); any other database error is 500, since a resend would fail the
// same way forever. Over real HTTP on loopback.
import t from 'tap';
import Fastify from 'fastify';
import { databaseError } from '../src/database/postgres-pool.js';
import { installErrorHandlers } from '../src/http/error-handler.js';

const CASES: [string, Record<string, unknown>, number][] = [
  ['connection refused', { code: 'ECONNREFUSED' }, 503],
  ['server shut down under the connection', { code: '57P01' }, 503],
  ['connection exception class 08', { code: '08006' }, 503],
  ['connection terminated', { message: 'Connection terminated unexpectedly' }, 503],
  ['unique violation', { code: '23505' }, 500],
  ['syntax error', { code: '42601' }, 500],
];

t.test('PB_ERR_DATABASE: 503 when PostgreSQL is unreachable, 500 otherwise', async (t) => {
  const app = Fastify();
  installErrorHandlers(app);
  app.get('/:case', async (request) => {
    const found = CASES[Number((request.params as { case: string }).case)]!;
    const cause = Object.assign(new Error(String(found[1].message ?? found[0])), found[1]);
    throw databaseError('storing the report', cause);
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  for (const [index, [name, , status]] of CASES.entries()) {
    const res = await fetch(`${base}/${index}`);
    t.equal(res.status, status, name);
    await res.arrayBuffer();
  }
});
