// A follower replica's mirror (sync/mirror-service.ts with cluster/): it opens the shared data
// directory without writing to it (a leftover of an interrupted write stays for the leader to
// clean), refuses to sync, serves a TUF target the leader has just published before it was
// told (looked up on disk before a 404), and takes over the writing when elected. Two mirrors
// in one process over one directory; the leadership is a stand-in (the lock itself is tested
// on PostgreSQL in leader-lock.test.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import { ServedRepository, readServedState, servedRepositoryDir } from '../src/tuf/served-repository.js';
import { expiryPolicy } from '../src/tuf/served-tuf.js';
import { silentLogger } from './fixtures/http-harness.js';
import { SAMPLE, sampleTufConfig } from './fixtures/sample-tuf.js';
import { ManualClock } from './fixtures/tuf-server.js';
import { announcePublications } from '../src/cluster/publication-announce.js';
import { openTufMirror, type ServedTuf } from '../src/tuf/served-tuf.js';
import { METADATA_DIR } from '@patchbay/core/tuf';

t.test('a follower writes nothing, serves what the leader publishes, and leads when elected', async (t) => {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const config = sampleTufConfig(dataDir);
  // the replicas share the directory: neither holds the data-dir lock
  const shared = { path: dataDir, release: () => Promise.resolve() };
  /** what the lock says for one replica; the test moves it */
  const role = (leads: boolean) => {
    const lock = { leads, isLeader: () => lock.leads, stillLeader: () => Promise.resolve(lock.leads) };
    return lock;
  };

  // a temp file whose writer is gone (a pid that has exited)
  await mkdir(join(dataDir, 'catalog'), { recursive: true });
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
  const leftover = join(dataDir, 'catalog', `.current.json.${deadPid}.0123456789ab.tmp`);
  await writeFile(leftover, 'half a write');

  const followerRole = role(false);
  const follower = await createMirrorService(config, silentLogger, {
    lock: shared,
    leadership: followerRole,
  });
  t.teardown(() => follower.close());
  t.ok(existsSync(leftover), "a follower leaves the writer's leftovers be");
  t.throws(() => follower.startSync(), /not the leader/, 'a follower does not sync');

  const leaderRole = role(true);
  const leader = await createMirrorService(config, silentLogger, { lock: shared, leadership: leaderRole });
  t.teardown(() => leader.close());
  t.notOk(existsSync(leftover), 'the leader cleans them up');
  t.equal((await leader.startSync()).outcome, 'ok');

  const store = await ReportStore.open(join(dir, 'reports'));
  const app = await buildServer({ mirror: follower, store, config, logger: silentLogger });
  t.teardown(async () => {
    await app.close();
    await store.close();
  });
  const served = await readServedState(servedRepositoryDir(dataDir));
  const [path] = [...served!.targets.keys()];
  t.ok(path, 'the leader published targets');
  const target = await app.inject({ method: 'GET', url: `/v1/tuf/targets/${path}` });
  t.equal(
    target.statusCode,
    200,
    'the follower serves a target it was not told about: looked up before a 404',
  );
  t.equal(follower.current()?.sequence, leader.current()?.sequence, 'and now serves the same catalog');

  // the leader's timestamp refresh is announced to no one: the follower serves it at once all the same
  const poll = (etag?: string) =>
    app.inject({
      method: 'GET',
      url: '/v1/tuf/metadata/timestamp.json',
      headers: etag ? { 'if-none-match': etag } : {},
    });
  const before = await poll();
  const etag = String(before.headers.etag);
  t.equal((await poll(etag)).statusCode, 304, 'unchanged: 304');
  const refreshed = await refreshAsAnotherServer(config, dataDir);
  const after = await poll(etag);
  t.equal(after.statusCode, 200, "the leader's new timestamp, not the follower's kept copy");
  t.not(after.headers.etag, etag, 'under a new ETag');
  t.equal(after.json<{ signed: { version: number } }>().signed.version, refreshed?.timestampVersion);
  await follower.reload?.();
  t.equal((await poll(String(after.headers.etag))).statusCode, 304, 'and after the reload, the same');

  // the leader loses the lock, the follower is elected
  leaderRole.leads = false;
  await leader.follow?.();
  followerRole.leads = true;
  await follower.lead?.();
  t.throws(() => leader.startSync(), /not the leader/, 'the old leader no longer syncs');
  t.equal((await follower.startSync()).outcome, 'ok', 'the new leader syncs');
});

t.test("a replica's leader checks each served file on disk; one server trusts its own writes", async (t) => {
  const dataDir = join(t.testdir(), 'data');
  const config = sampleTufConfig(dataDir);
  const publisher = await createMirrorService(config, silentLogger);
  t.equal((await publisher.startSync()).outcome, 'ok');
  await publisher.close();
  /** another replica's timestamp refresh, renamed into the shared directory */
  const refreshElsewhere = async () => (await refreshAsAnotherServer(config, dataDir))?.timestampVersion;
  const versionServed = async (tuf: ServedTuf) => {
    const file = await tuf.view().metadataFile('timestamp.json');
    return (JSON.parse(file!.bytes.toString()) as { signed: { version: number } }).signed.version;
  };

  // a leader of replicas (database.url): its lock may be gone before it knows, another replica writing
  const replica = await openTufMirror(
    { ...config, database: { ...config.database, url: 'postgres://unused/db' } },
    silentLogger,
  );
  t.teardown(() => replica.close());
  await versionServed(replica);
  const version = await refreshElsewhere();
  t.equal(
    await versionServed(replica),
    version,
    "the leader serves the other replica's newer timestamp at once",
  );

  // one server: the data-dir lock makes it the only writer, so what it holds stays served
  const single = await openTufMirror(config, silentLogger);
  t.teardown(() => single.close());
  const held = await versionServed(single);
  t.not(await refreshElsewhere(), held);
  t.equal(await versionServed(single), held, 'one server reads no file while nothing of its own changed');
  await single.follow();
  t.not(await versionServed(single), held, 'demoted to a follower, it checks each file again');
});

/** The sample repository over loopback HTTP; while held, requests wait for release(). */
/** A timestamp refresh by another server of the shared data directory (the leader, or another replica). */
async function refreshAsAnotherServer(config: ReturnType<typeof sampleTufConfig>, dataDir: string) {
  const other = await ServedRepository.open(
    servedRepositoryDir(dataDir),
    (await ensureOnlineKey(config)).key,
    expiryPolicy(config),
    silentLogger,
    () => Promise.resolve(),
  );
  return other.refresh(new Date());
}

async function heldUpstream(t: Test): Promise<{ url: string; hold(): Promise<void>; release(): void }> {
  let gate: Promise<void> = Promise.resolve();
  let open = (): void => undefined;
  let asked = (): void => undefined;
  const server = createServer((req, res) => {
    asked();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    void gate
      .then(() => readFile(join(SAMPLE, 'repository', path.replaceAll('..', ''))))
      .then(
        (bytes) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes),
        () => res.writeHead(404).end(),
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    // resolves once a request is waiting: the sync that sent it has stored its running report
    hold: () => {
      gate = new Promise((resolve) => (open = resolve));
      return new Promise((resolve) => (asked = resolve));
    },
    release: () => open(),
  };
}

t.test(
  "a follower shows the leader's sync while it runs, and reloads at its announced timestamp refresh",
  async (t) => {
    const dataDir = join(t.testdir(), 'data');
    const upstream = await heldUpstream(t);
    const sample = sampleTufConfig(dataDir);
    const config = { ...sample, upstream: { ...sample.upstream, url: upstream.url } };
    const shared = { path: dataDir, release: () => Promise.resolve() };
    const stand = (leads: boolean) => ({ isLeader: () => leads, stillLeader: () => Promise.resolve(leads) });
    const clock = new ManualClock();
    const leader = await createMirrorService(config, silentLogger, {
      lock: shared,
      leadership: stand(true),
      clock,
    });
    t.teardown(() => leader.close());
    const follower = await createMirrorService(config, silentLogger, {
      lock: shared,
      leadership: stand(false),
    });
    t.teardown(() => follower.close());
    const store = await ReportStore.open(join(dataDir, '..', 'reports'));
    const cluster = { replicaId: 'b:2', database: 'postgres' as const, isLeader: () => false };
    const app = await buildServer({
      mirror: follower,
      store,
      config,
      logger: silentLogger,
      cluster: { ...cluster, leaderId: () => Promise.resolve('a:1') },
    });
    t.teardown(async () => {
      await app.close();
      await store.close();
    });
    const status = async () =>
      (await app.inject({ method: 'GET', url: '/v1/status' })).json<{
        syncing: boolean;
        lastSync: { outcome: string } | null;
        trust: { timestampVersion: number };
      }>();

    const asked = upstream.hold();
    const sync = leader.startSync();
    await asked;
    t.match(
      await status(),
      { syncing: true, lastSync: { outcome: 'running' } },
      'the leader syncs: shown here',
    );
    upstream.release();
    t.equal((await sync).outcome, 'ok');
    t.match(await status(), { syncing: false, lastSync: { outcome: 'ok' } }, 'and its end');

    // A timestamp refresh, announced as the replicas' NOTIFY does (lifecycle/mirror-plugin.ts).
    const served = async () => ({
      bytes: (await app.inject({ method: 'GET', url: '/v1/tuf/metadata/timestamp.json' })).rawPayload,
      version: (await status()).trust.timestampVersion,
    });
    const before = await served();
    const reloads: Promise<unknown>[] = [];
    t.teardown(announcePublications(leader.events, () => reloads.push(follower.reload!())));
    const hours = config.signing?.timestampExpiryHours ?? 24;
    await clock.advance(hours * 0.6 * 3_600_000); // past half its life: one refresh
    t.equal(reloads.length, 1, 'the refresh was announced');
    await Promise.all(reloads);
    const after = await served();
    const written = await readFile(join(servedRepositoryDir(dataDir), METADATA_DIR, 'timestamp.json'));
    t.ok(after.version > before.version, `the follower reloaded: v${before.version} -> v${after.version}`);
    t.same(after.bytes, written, "and serves the leader's new bytes");
  },
);
