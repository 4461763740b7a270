// Two real `patchbay-server serve` processes on one data directory and one PostgreSQL
// database (docs/scale.md "Replicas and failover"): exactly one leads and syncs, the other
// serves the same TUF metadata bytes and every target they name; POST /v1/sync on the
// follower names the leader; kill -9 of the leader hands leadership and the next sync to
// the other within the documented bound (cluster.leaderRetrySeconds: the killed process's
// socket closes, PostgreSQL ends its session and releases the lock at once).
//
// What is tested here is leadership and the published files; the reports, tokens and sync
// state are wherever the stores of this build keep them with database.url (without the
// PostgreSQL stores, SQLite files in the shared directory, which processes on one machine
// may share).
import t from 'tap';
import { consistentTargetPath } from '@patchbay/core/tuf';
import { startPostgres } from '../../../test/helpers/postgres.js';
import { waitFor } from '../../../test/helpers/processes.js';
import { writeSampleServeConfig } from './fixtures/sample-tuf.js';
import { run, startServe, type Serving } from './fixtures/server-cli.js';

const RETRY_SECONDS = 1;
const ADMIN_TOKEN = 'replicas-test-admin-token-0123456789abcdef';

interface Status {
  lastSync: { outcome: string; startedAt: string; published: boolean } | null;
  trust?: { timestampVersion: number | null };
  cluster: { replica: string; leader: boolean; database: string };
}

async function status(serving: Serving): Promise<Status> {
  const res = await fetch(`${serving.url}/v1/status`);
  if (!res.ok) throw new Error(`status ${res.status}`);
  return (await res.json()) as Status;
}

async function bytes(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** Every consistent target path the served metadata names (timestamp -> snapshot -> roles). */
async function servedTargets(base: string): Promise<string[]> {
  const json = async (name: string) =>
    JSON.parse((await bytes(`${base}/v1/tuf/metadata/${name}`)).body.toString());
  const timestamp = await json('timestamp.json');
  const snapshot = await json(`${timestamp.signed.meta['snapshot.json'].version}.snapshot.json`);
  const paths: string[] = [];
  for (const [file, meta] of Object.entries(snapshot.signed.meta as Record<string, { version: number }>)) {
    const role = file.slice(0, -'.json'.length);
    const metadata = await json(`${meta.version}.${encodeURIComponent(role)}.json`);
    for (const [path, target] of Object.entries(
      metadata.signed.targets as Record<string, { hashes: { sha256: string } }>,
    ))
      paths.push(consistentTargetPath(path, target.hashes.sha256));
  }
  return paths;
}

const cluster = await startPostgres(t);

/** A replica's config (`database` null: a one-server serve), with the admin token and logs at info. */
function writeConfig(dir: string, name: string, database: string | null): Promise<string> {
  return writeSampleServeConfig(dir, name, database, {
    auth: { adminToken: ADMIN_TOKEN },
    cluster: { leaderRetrySeconds: RETRY_SECONDS },
    log: { level: 'info' },
  });
}

t.test('two replicas on one data directory and one database', { skip: !cluster }, async (t) => {
  const url = await cluster!.createDatabase('replicas');
  const config = await writeConfig(t.testdir(), 'server.json', url);
  const a = await startServe(t, config);
  const b = await startServe(t, config);
  const logOf = (serving: Serving): (() => string) => {
    let log = '';
    serving.child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    return () => log;
  };
  const bLog = logOf(b);

  const first = await waitFor('the leader to finish its start sync', async () => {
    const s = await status(a);
    return s.lastSync?.outcome === 'ok' && s;
  });
  t.equal(first.cluster.database, 'postgres');
  t.ok(first.cluster.leader, 'the first replica leads');
  const bStatus = await status(b);
  t.notOk(bStatus.cluster.leader, 'the second follows');
  t.not(bStatus.cluster.replica, first.cluster.replica, 'each replica has its own id');
  const followerMetrics = await (await fetch(`${b.url}/metrics`)).text();
  t.match(followerMetrics, /^patchbay_cluster_leader 0$/m, '/metrics: the follower does not lead');
  const followerSync = await waitFor('the follower to show the leader sync', async () => {
    const s = await status(b);
    return s.lastSync?.outcome === 'ok' && s.lastSync;
  });
  t.equal(
    followerSync.startedAt,
    first.lastSync!.startedAt,
    "the follower shows the leader's sync: one sync ran",
  );
  t.notMatch(bLog(), /sync starting/, 'the follower never synced');

  // The same bytes, and every target the metadata names, from both replicas.
  const [ta, tb] = await Promise.all([
    bytes(`${a.url}/v1/tuf/metadata/timestamp.json`),
    bytes(`${b.url}/v1/tuf/metadata/timestamp.json`),
  ]);
  t.equal(ta.status, 200);
  t.same(tb.body, ta.body, 'timestamp.json: the same bytes from both replicas');
  const targets = await servedTargets(b.url);
  t.ok(targets.length > 0, 'the metadata names targets');
  for (const path of targets) {
    const [fromA, fromB] = await Promise.all([
      bytes(`${a.url}/v1/tuf/targets/${path}`),
      bytes(`${b.url}/v1/tuf/targets/${path}`),
    ]);
    t.equal(fromB.status, 200, `the follower serves ${path}`);
    t.same(fromB.body, fromA.body, `${path}: the same bytes`);
  }

  const refused = await fetch(`${b.url}/v1/sync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  t.equal(refused.status, 503, 'POST /v1/sync on the follower is refused');
  t.equal(refused.headers.get('retry-after'), '1');
  t.match(
    ((await refused.json()) as { message: string }).message,
    first.cluster.replica,
    'naming the leader',
  );
  const gcRefused = await fetch(`${b.url}/v1/gc`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  t.equal(gcRefused.status, 503, 'POST /v1/gc on the follower too');

  // kill -9 the leader: the follower takes over and syncs, within leaderRetrySeconds.
  const killedAt = Date.now();
  a.child.kill('SIGKILL');
  await a.closed;
  const taken = await waitFor('the follower to lead', async () => (await status(b)).cluster.leader);
  const takeoverMs = Date.now() - killedAt;
  t.ok(taken);
  // the bound: one retry period (its next attempt), plus this test's polling and start-up slack
  t.ok(takeoverMs < RETRY_SECONDS * 1000 + 2000, `took over in ${takeoverMs} ms`);
  const resynced = await waitFor('the new leader to sync', async () => {
    const s = await status(b);
    return s.lastSync?.outcome === 'ok' && Date.parse(s.lastSync.startedAt) >= killedAt && s;
  });
  t.ok(resynced, 'the new leader ran a sync of its own');
  t.match(bLog(), /elected leader/);
  const after = await bytes(`${b.url}/v1/tuf/metadata/timestamp.json`);
  t.equal(after.status, 200);
  for (const path of await servedTargets(b.url))
    t.equal((await bytes(`${b.url}/v1/tuf/targets/${path}`)).status, 200, `still served: ${path}`);
  // PostgreSQL restarts: the leader's session ends, it stops leading, and is elected again
  const restartedAt = Date.now();
  await cluster!.restart();
  await waitFor('the replica to lead again and sync', async () => {
    const s = await status(b);
    return (
      s.cluster.leader && s.lastSync?.outcome === 'ok' && Date.parse(s.lastSync.startedAt) >= restartedAt
    );
  });
  t.match(bLog(), /leadership lost/, 'it noticed the lost session');
  // a command that writes the data directory refuses while a replica leads
  const gc = await run(['--config', config, 'gc']);
  t.equal(gc.code, 1, 'gc refuses while a replica leads');
  t.match(gc.stderr, `replica ${resynced.cluster.replica} leads`);
  t.ok((await status(b)).cluster.leader, 'and the leader keeps leading');
  b.child.kill('SIGTERM');
  t.equal(await b.closed, 0, 'the new leader stops cleanly');
});

t.test(
  'a replica does not start beside a one-server serve on the same directory',
  { skip: !cluster },
  async (t) => {
    const url = await cluster!.createDatabase('beside_one_server');
    const dir = t.testdir();
    const alone = await startServe(t, await writeConfig(dir, 'alone.json', null));
    t.ok(alone.url);
    await t.rejects(startServe(t, await writeConfig(dir, 'replica.json', url)), /exited early with 1/);
  },
);
