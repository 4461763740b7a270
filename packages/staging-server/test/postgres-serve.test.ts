// Tokens and sync state on PostgreSQL over real HTTP on loopback (run `npx tsc -b` first).
// Two staging servers (replicas) on one database: a host enrolled with the real
// `patchbay-server enroll` (database.url in its config) reports to either server with the
// same token, and after `revoke` both refuse it at once — every server looks the token up in
// the shared table per request. And a real `serve` keeps its sync state there, not in files.
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import t, { type Test } from 'tap';
import type { ServerConfig } from '@patchbay/core';
import { startPostgres } from '../../../test/helpers/postgres.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { httpTestConfig, report, silentLogger } from './fixtures/http-harness.js';
import { TestMirror } from './fixtures/http-mirror.js';
import { run, startServe } from './fixtures/server-cli.js';
import { waitFor } from '../../../test/helpers/processes.js';

const cluster = await startPostgres(t);

/** One replica: its own process state and report store, the tokens from `databaseUrl`. */
async function startReplica(t: Test, dir: string, databaseUrl: string): Promise<string> {
  const config: ServerConfig = {
    ...httpTestConfig(dir),
    auth: { reportTokens: 'required' },
    database: { url: databaseUrl, poolSize: 2 },
  } as ServerConfig;
  const store = await ReportStore.open(dir);
  // No tokens option: the server opens the configured store itself, as `serve` does.
  const app = await buildServer({ mirror: new TestMirror(dir), store, config, logger: silentLogger });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await store.close();
  });
  return base;
}

/** A vendor feed with no patches at `sequence`, in `feedDir`. */
async function writeFeed(feedDir: string, sequence: number): Promise<void> {
  await mkdir(feedDir, { recursive: true });
  await writeFile(
    join(feedDir, 'feed.json'),
    JSON.stringify({
      format: 'patchbay-feed/1',
      vendor: 'Test',
      sequence,
      generatedAt: '2026-12-01T08:00:00Z',
      products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
      patches: [],
    }),
  );
}

/** A config file for the CLI and `serve`: a local feed, tokens required, `databaseUrl`. */
async function writeConfig(dir: string, databaseUrl: string): Promise<string> {
  const feedDir = join(dir, 'feed');
  await writeFeed(feedDir, 2);
  const file = join(dir, 'server.json');
  await writeFile(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: join(dir, 'data'),
      upstream: { url: pathToFileURL(feedDir + '/').href },
      schedule: { sync: null, prune: null },
      auth: { reportTokens: 'required' },
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
    const config = await writeConfig(dir, url);

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
    const config = await writeConfig(dir, url);
    const result = await run(['--config', config, 'enroll', 'prod-db-01']);
    t.equal(result.code, 1);
    t.equal(result.stdout, '', 'no token printed');
    t.match(result.stderr, /^patchbay-server: enroll: cannot connect to PostgreSQL at .*no_such_database/);
    t.notMatch(result.stderr, /s3cret-pw/);
  },
);

t.test(
  'serve with database.url: sync state and tokens in PostgreSQL, kept across a restart, no SQLite files',
  { skip: cluster ? false : 'no PostgreSQL here' },
  async (t) => {
    const url = await cluster!.createDatabase('serve_state');
    const dir = t.testdir();
    const config = await writeConfig(dir, url);
    const first = await startServe(t, config);
    // serve syncs once it listens
    const synced = await lastSyncOnceDone(first.url);
    t.equal(synced.outcome, 'ok');

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.teardown(() => client.end());
    const { rows } = await client.query<{ key: string }>('SELECT key FROM patchbay_sync_state ORDER BY key');
    t.same(
      rows.map((r) => r.key),
      [
        'patchbay-sync:mirror.sequence',
        'patchbay-sync:sync.last',
        'patchbay-sync:sync.lastUpdate',
        'patchbay-sync:upstream.lastAcceptedSequence',
        'patchbay-sync:upstream.validators',
      ],
      "the sync's state is in PostgreSQL",
    );
    const enrolled = await run(['--config', config, 'enroll', 'prod-db-01', '--json']);
    const { token } = JSON.parse(enrolled.stdout) as { token: string };
    t.equal((await put(first.url, 'prod-db-01', token)).status, 200, 'the token from PostgreSQL is accepted');
    for (const file of ['auth.sqlite', 'state.sqlite'])
      await t.rejects(
        access(join(dir, 'data', file)),
        { code: 'ENOENT' },
        `no ${file} in the data directory`,
      );

    first.child.kill('SIGTERM');
    t.equal(await first.closed, 0);
    // An older feed: refused only if the restarted server remembers the accepted sequence.
    await writeFeed(join(dir, 'feed'), 1);
    const second = await startServe(t, config);
    t.teardown(async () => {
      second.child.kill('SIGTERM');
      await second.closed;
    });
    const refused = await lastSyncOnceDone(second.url);
    t.equal(refused.outcome, 'failed');
    t.match(refused.error, /lower than the last accepted sequence 2: refused as a rollback/);
    const status = (await (await fetch(`${second.url}/v1/status`)).json()) as {
      lastUpdate: { at: string } | null;
    };
    t.equal(status.lastUpdate?.at, synced.finishedAt, 'the last update read back from PostgreSQL');
    t.equal((await put(second.url, 'prod-db-01', token)).status, 200);
  },
);

interface LastSync {
  outcome: string;
  error: string | null;
  finishedAt: string | null;
}

/** /v1/status's lastSync once no sync is running. */
function lastSyncOnceDone(base: string): Promise<LastSync> {
  return waitFor('a finished sync', async () => {
    const status = (await (await fetch(`${base}/v1/status`)).json()) as {
      lastSync: LastSync | null;
      syncing: boolean;
    };
    return !status.syncing && status.lastSync?.finishedAt ? status.lastSync : undefined;
  });
}
