// A follower replica's mirror (sync/mirror-service.ts with cluster/): it opens the shared data
// directory without writing to it (a leftover of an interrupted write stays for the leader to
// clean), refuses to sync, serves a TUF target the leader has just published before it was
// told (looked up on disk before a 404), and takes over the writing when elected. Two mirrors
// in one process over one directory; the leadership is a stand-in (the lock itself is tested
// on PostgreSQL in leader-lock.test.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import { ServedRepository, readServedState, servedRepositoryDir } from '../src/tuf/served-repository.js';
import { expiryPolicy } from '../src/tuf/served-tuf.js';
import { silentLogger } from './fixtures/http-harness.js';
import { sampleTufConfig } from './fixtures/sample-tuf.js';

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
  const leaderRepository = await ServedRepository.open(
    servedRepositoryDir(dataDir),
    (await ensureOnlineKey(config)).key,
    expiryPolicy(config),
    silentLogger,
    () => Promise.resolve(),
  );
  const refreshed = await leaderRepository.refresh(new Date());
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
