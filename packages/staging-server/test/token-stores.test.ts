// The token store's behaviour on both backends: <dataDir>/auth.sqlite and PostgreSQL
// (database.url). One suite, run against each; PostgreSQL is a throwaway cluster for this
// file, a database of its own per case.
import pg from 'pg';
import t, { type Test } from 'tap';
import { startPostgres } from '../../../test/helpers/postgres.js';
import { openTokenStore } from '../src/auth/open-token-store.js';
import { hashToken, type TokenStore } from '../src/auth/token-store.js';
import { storeBackends, type StoreBackend } from './fixtures/store-backends.js';

const cluster = await startPostgres(t);

/** Opens another store on the same tokens (another process, another replica); closed at teardown. */
type OpenStore = () => Promise<TokenStore>;

async function place(t: Test, backend: StoreBackend): Promise<OpenStore> {
  const config = await backend.config(t);
  return async () => {
    const store = await openTokenStore(config, { poolSize: 2 });
    t.teardown(() => store.close());
    return store;
  };
}

const T0 = new Date('2026-12-01T10:00:00.000Z');
const T1 = new Date('2026-12-02T11:30:00.000Z');

for (const backend of storeBackends(cluster, 'tokens')) {
  t.test(backend.name, async (t) => {
    t.test(
      'a live token checks ok; wrong, malformed, revoked, other-host and wrong-kind do not',
      async (t) => {
        const tokens = await (await place(t, backend))();
        const own = await tokens.enroll('host-a', T0);
        const other = await tokens.enroll('host-b', T0);
        const branch = await tokens.enroll('branch-b', T0, 'branch');
        t.match(own, /^pbt_[A-Za-z0-9_-]{43}$/);
        t.equal(await tokens.check('host-a', own), 'ok');
        t.equal(await tokens.check('host-a', own, 'host'), 'ok');
        t.equal(await tokens.check('host-a', `pbt_${'x'.repeat(43)}`), 'unknown');
        t.equal(await tokens.check('host-a', 'garbage'), 'unknown');
        t.equal(await tokens.check('nobody', `pbt_${'x'.repeat(43)}`), 'unknown');
        t.equal(await tokens.check('host-a', other), 'other-host', "another host's live token");
        t.equal(await tokens.check('nobody', own), 'other-host', 'a live token sent for an unknown id');
        t.equal(
          await tokens.check('host-a', own, 'branch'),
          'wrong-kind',
          'a host token on the rollup route',
        );
        t.equal(await tokens.check('branch-b', branch, 'host'), 'wrong-kind', 'a branch token on a report');
        t.equal(
          await tokens.check('host-a', branch, 'host'),
          'wrong-kind',
          "a branch's token sent for a host",
        );
        t.equal(await tokens.check('branch-b', branch, 'branch'), 'ok');

        t.equal(await tokens.revoke('host-a', T1), true);
        t.equal(await tokens.check('host-a', own), 'revoked');
        t.equal(await tokens.check('host-b', own), 'unknown', 'a revoked token is no live token of anyone');
        t.equal(await tokens.revoke('host-a', T1), false, 'nothing live to revoke the second time');
        t.equal(await tokens.revoke('nobody'), false);
        t.equal(await tokens.check('host-b', other), 'ok', 'other hosts are unaffected');
      },
    );

    t.test('enrolling again replaces the token; a revoked id enrolled again is live', async (t) => {
      const tokens = await (await place(t, backend))();
      const first = await tokens.enroll('host-a', T0);
      const second = await tokens.enroll('host-a', T1);
      t.not(second, first, 'every token is fresh');
      t.equal(await tokens.check('host-a', first), 'unknown', 'the old token stopped working');
      t.equal(await tokens.check('host-a', second), 'ok');
      t.same(await tokens.get('host-a'), {
        hostId: 'host-a',
        kind: 'host',
        createdAt: T1.toISOString(),
        revokedAt: null,
      });
      await tokens.revoke('host-a', T1);
      const third = await tokens.enroll('host-a', T1);
      t.equal(await tokens.check('host-a', third), 'ok');
      t.equal((await tokens.get('host-a'))?.revokedAt, null);
    });

    t.test('one name is never both kinds: the other kind needs a revoke first', async (t) => {
      const tokens = await (await place(t, backend))();
      const host = await tokens.enroll('name-a', T0);
      await t.rejects(tokens.enroll('name-a', T1, 'branch'), {
        code: 'PB_ERR_USAGE',
        message: /"name-a" is enrolled as a host, not a branch: revoke it first/,
      });
      t.equal(await tokens.check('name-a', host), 'ok', 'the refused enroll changed nothing');
      await tokens.revoke('name-a', T1);
      const branch = await tokens.enroll('name-a', T1, 'branch');
      t.equal(await tokens.check('name-a', branch, 'branch'), 'ok');
      await t.rejects(tokens.enroll('name-a', T1, 'host'), { code: 'PB_ERR_USAGE', message: /as a branch/ });
    });

    t.test('get and the listing: every id, by name, with kind and times, never a hash', async (t) => {
      const tokens = await (await place(t, backend))();
      t.equal(await tokens.get('host-b'), null);
      t.same(await tokens.list(), []);
      await tokens.enroll('host-b', T0);
      await tokens.enroll('Host-C', T0);
      await tokens.enroll('branch-a', T1, 'branch');
      await tokens.enroll('host-a', T0);
      await tokens.revoke('host-a', T1);
      t.same(await tokens.list(), [
        { hostId: 'Host-C', kind: 'host', createdAt: T0.toISOString(), revokedAt: null },
        { hostId: 'branch-a', kind: 'branch', createdAt: T1.toISOString(), revokedAt: null },
        { hostId: 'host-a', kind: 'host', createdAt: T0.toISOString(), revokedAt: T1.toISOString() },
        { hostId: 'host-b', kind: 'host', createdAt: T0.toISOString(), revokedAt: null },
      ]);
      t.same(
        [...(await tokens.liveHostTokenHolders(['host-a', 'host-b', 'branch-a', 'nobody', 'host-b']))],
        ['host-b'],
        'live host tokens only, in one lookup: not revoked, not a branch, not unknown',
      );
    });

    t.test('two stores on the same tokens: an enroll and a revoke are seen at once', async (t) => {
      const open = await place(t, backend);
      const [cli, server] = [await open(), await open()];
      t.equal(await server.check('host-a', `pbt_${'z'.repeat(43)}`), 'unknown');
      const token = await cli.enroll('host-a');
      t.equal(await server.check('host-a', token), 'ok', 'enrolled through one, accepted through the other');
      t.equal(await server.revoke('host-a'), true);
      t.equal(await cli.check('host-a', token), 'revoked', 'revoked through one, refused through the other');
      const again = await server.enroll('host-a');
      t.equal(await cli.check('host-a', again), 'ok');
      t.equal(await cli.check('host-a', token), 'unknown');
    });

    t.test(
      'one name enrolled as both kinds at once through two stores: one wins, one is refused',
      async (t) => {
        const open = await place(t, backend);
        const [one, other] = [await open(), await open()];
        const outcomes = await Promise.allSettled([
          one.enroll('name-a', T0, 'host'),
          other.enroll('name-a', T0, 'branch'),
        ]);
        const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [{ i, token: o.value }] : []));
        const refused = outcomes.flatMap((o) =>
          o.status === 'rejected' ? [o.reason as { code?: string }] : [],
        );
        t.equal(won.length, 1, 'one enroll succeeds');
        t.same(
          refused.map((e) => e.code),
          ['PB_ERR_USAGE'],
          'the other is refused as the other kind',
        );
        const kind = won[0]!.i === 0 ? 'host' : 'branch';
        t.equal((await one.get('name-a'))?.kind, kind);
        t.equal(await other.check('name-a', won[0]!.token, kind), 'ok', "the winner's token is the live one");
      },
    );
  });
}

t.test('postgres only', { skip: cluster ? false : 'no PostgreSQL here' }, async (t) => {
  const pgCluster = cluster!;

  t.test('the table holds the SHA-256 of a token, never the token', async (t) => {
    const url = await pgCluster.createDatabase('tokens_hash_only');
    const tokens = await openTokenStore({ dataDir: t.testdir(), database: { url } }, { poolSize: 2 });
    const token = await tokens.enroll('prod-db-01');
    await tokens.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.teardown(() => client.end());
    const { rows } = await client.query<Record<string, unknown>>('SELECT * FROM host_tokens');
    const dump = JSON.stringify(rows);
    t.notOk(dump.includes(token.slice(4)), 'the random part appears nowhere');
    t.same((rows[0] as { token_hash: Buffer }).token_hash, hashToken(token));
    const schema = await client.query("SELECT version FROM patchbay_schema WHERE component = 'tokens'");
    t.same(schema.rows, [{ version: 1 }], 'the migration is recorded');
  });

  t.test('replicas starting at once on a fresh database all open it', async (t) => {
    const url = await pgCluster.createDatabase('tokens_at_once');
    const config = { dataDir: t.testdir(), database: { url } };
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => openTokenStore(config, { poolSize: 2 })),
    );
    t.teardown(() => Promise.all(stores.map((s) => s.close())));
    const token = await stores[0]!.enroll('host-a');
    for (const store of stores) t.equal(await store.check('host-a', token), 'ok');
  });

  t.test('a PostgreSQL restart between requests: the next check is answered', async (t) => {
    const url = await pgCluster.createDatabase('tokens_restart');
    const tokens = await openTokenStore({ dataDir: t.testdir(), database: { url } }, { poolSize: 2 });
    t.teardown(() => tokens.close());
    const token = await tokens.enroll('host-a');
    t.equal(await tokens.check('host-a', token), 'ok', 'a pooled connection is now idle');
    await pgCluster.restart();
    t.equal(await tokens.check('host-a', token), 'ok', 'answered on a fresh connection');
    t.equal(await tokens.revoke('host-a'), true, 'a write after the restart commits');
    t.equal(await tokens.check('host-a', token), 'revoked');
  });

  t.test('a database that cannot be reached fails the open with PB_ERR_DATABASE, no password', async (t) => {
    const url = `postgres://patchbay:s3cret-pw@127.0.0.1:${pgCluster.port}/no_such_database`;
    const err = await openTokenStore({ dataDir: t.testdir(), database: { url } }).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    t.equal(err?.code, 'PB_ERR_DATABASE');
    t.match(err?.message, /no_such_database/);
    t.notMatch(err?.message, /s3cret-pw/);
  });
});
