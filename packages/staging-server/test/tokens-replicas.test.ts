// Two staging servers (replicas) on one PostgreSQL database, over real HTTP on loopback: a
// host enrolled with the real `patchbay-server enroll` (database.url in its config) reports
// to either server with the same token, and after `revoke` both refuse it at once — every
// server looks the token up in the shared table per request (run `npx tsc -b` first).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { ServerConfig } from '@patchbay/core';
import { startPostgres } from '../../../test/helpers/postgres.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { httpTestConfig, report, silentLogger } from './fixtures/http-harness.js';
import { TestMirror } from './fixtures/http-mirror.js';
import { run } from './fixtures/server-cli.js';

const cluster = await startPostgres(t);

/** One replica: its own process state and report store, the tokens from `databaseUrl`. */
async function startReplica(t: Test, dir: string, databaseUrl: string): Promise<string> {
  const config: ServerConfig = {
    ...httpTestConfig(dir),
    auth: { reportTokens: 'required' },
    database: { url: databaseUrl, poolSize: 2 },
  } as ServerConfig;
  const store = ReportStore.open(dir);
  // No tokens option: the server opens the configured store itself, as `serve` does.
  const app = await buildServer({ mirror: new TestMirror(dir), store, config, logger: silentLogger });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    store.close();
  });
  return base;
}

/** The CLI's config file: the same database as the replicas. */
async function writeCliConfig(dir: string, databaseUrl: string): Promise<string> {
  const file = join(dir, 'server.json');
  await writeFile(
    file,
    JSON.stringify({
      dataDir: join(dir, 'cli-data'),
      upstream: { url: 'file:///nonexistent/feed/' },
      database: { url: databaseUrl },
      log: { level: 'warn' },
    }),
  );
  return file;
}

function put(base: string, hostId: string, token: string): Promise<Response> {
  return fetch(`${base}/v1/clients/${hostId}/report`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(report(hostId)),
  });
}

async function statusAndMessage(res: Response): Promise<[number, string]> {
  return [res.status, ((await res.json()) as { message?: string }).message ?? ''];
}

t.test(
  'a host enrolled through the CLI reports to either replica; after revoke both refuse it',
  { skip: cluster ? false : 'no PostgreSQL here' },
  async (t) => {
    const url = await cluster!.createDatabase('replica_tokens');
    const dir = t.testdir();
    const [a, b] = [await startReplica(t, join(dir, 'a'), url), await startReplica(t, join(dir, 'b'), url)];
    const config = await writeCliConfig(dir, url);

    const enrolled = await run(['--config', config, 'enroll', 'prod-db-01', '--json']);
    t.equal(enrolled.code, 0, enrolled.stderr);
    const { token } = JSON.parse(enrolled.stdout) as { token: string };
    t.equal((await put(a, 'prod-db-01', token)).status, 200, 'server A accepts it at once');
    t.equal((await put(b, 'prod-db-01', token)).status, 200, 'and server B, with the same token');

    const other = await run(['--config', config, 'enroll', 'prod-db-02', '--json']);
    const otherToken = (JSON.parse(other.stdout) as { token: string }).token;
    t.same(await statusAndMessage(await put(b, 'prod-db-01', otherToken)), [
      403,
      'the token belongs to another host: a host can report only as itself',
    ]);

    const revoked = await run(['--config', config, 'revoke', 'prod-db-01']);
    t.equal(revoked.code, 0, revoked.stderr);
    for (const [name, base] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const [status, message] = await statusAndMessage(await put(base, 'prod-db-01', token));
      t.equal(status, 401, `server ${name} refuses the revoked token at once`);
      t.match(message, /has been revoked/);
    }
    t.equal((await put(a, 'prod-db-02', otherToken)).status, 200, 'other hosts are unaffected');
  },
);

t.test(
  'enroll with an unreachable database exits 1 naming it, without its password',
  { skip: cluster ? false : 'no PostgreSQL here' },
  async (t) => {
    const dir = t.testdir();
    const url = `postgres://patchbay:s3cret-pw@127.0.0.1:${cluster!.port}/no_such_database`;
    const config = await writeCliConfig(dir, url);
    const result = await run(['--config', config, 'enroll', 'prod-db-01']);
    t.equal(result.code, 1);
    t.equal(result.stdout, '', 'no token printed');
    t.match(result.stderr, /^patchbay-server: enroll: cannot connect to PostgreSQL at .*no_such_database/);
    t.notMatch(result.stderr, /s3cret-pw/);
  },
);
