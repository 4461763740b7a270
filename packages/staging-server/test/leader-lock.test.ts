// The replicas' leader lock on a real PostgreSQL (test/helpers/postgres.ts): one of two locks
// is elected; when the holder's session ends (closed, killed, PostgreSQL restarted) another
// is elected at its next attempt, which comes cluster.leaderRetrySeconds later (a manual
// clock: the test moves time, never sleeps).
import t, { type Test } from 'tap';
import pg from 'pg';
import { PostgresLeaderLock } from '../src/cluster/leader-lock.js';
import { soleLeader, type Leadership } from '../src/cluster/leadership.js';
import { startPostgres } from '../../../test/helpers/postgres.js';
import { waitFor } from '../../../test/helpers/processes.js';
import { silentLogger } from './fixtures/http-harness.js';
import { ManualClock } from './fixtures/tuf-server.js';

const RETRY_SECONDS = 5;
const cluster = await startPostgres(t);

function once(lock: Leadership, event: 'elected' | 'lost'): Promise<void> {
  return new Promise((resolve) => {
    const off = lock.on(event, () => {
      off();
      resolve();
    });
  });
}

async function openLock(t: Test, url: string, replicaId: string) {
  const clock = new ManualClock();
  const lock = new PostgresLeaderLock(url, {
    retrySeconds: RETRY_SECONDS,
    logger: silentLogger,
    replicaId,
    clock,
  });
  t.teardown(() => lock.close());
  await lock.start();
  await lock.startDone();
  return { lock, clock };
}

/** End the sessions PostgreSQL shows under this replica's lock name (as a crash would). */
async function killSession(url: string, replicaId: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [`patchbay-leader ${replicaId}`],
    );
    return rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

async function waitingLocks(url: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    );
    return rows[0]?.n ?? 0;
  } finally {
    await admin.end();
  }
}

t.test('SQLite: one server, always its own leader', async (t) => {
  const sole = soleLeader('box:1');
  await sole.start();
  t.equal(sole.database, 'sqlite');
  t.ok(sole.isLeader());
  t.ok(await sole.stillLeader());
  t.equal(await sole.leaderId(), 'box:1');
});

if (cluster) {
  t.test('two replicas: exactly one is elected, the other names it', async (t) => {
    const url = await cluster.createDatabase('two_replicas');
    const a = await openLock(t, url, 'a:1');
    const b = await openLock(t, url, 'b:2');
    t.ok(a.lock.isLeader(), 'the first to try is elected');
    t.notOk(b.lock.isLeader(), 'the second is not');
    t.ok(await a.lock.stillLeader(), 'the fencing check asks PostgreSQL and says yes');
    t.notOk(await b.lock.stillLeader());
    t.equal(await b.lock.leaderId(), 'a:1', 'a non-leader names the leader');
    await b.clock.advance(RETRY_SECONDS * 1000);
    t.notOk(b.lock.isLeader(), 'retrying while the leader lives changes nothing');
    t.ok(a.lock.isLeader());
  });

  t.test(
    "the holder's session killed: it knows at once, the other is elected within leaderRetrySeconds",
    async (t) => {
      const url = await cluster.createDatabase('killed_holder');
      const a = await openLock(t, url, 'a:1');
      const b = await openLock(t, url, 'b:2');
      const lost = once(a.lock, 'lost');
      t.equal(await killSession(url, 'a:1'), 1);
      await lost;
      t.notOk(a.lock.isLeader(), 'the old leader stops at once');
      t.notOk(await a.lock.stillLeader(), 'and its fencing check says no');
      await b.clock.advance(RETRY_SECONDS * 1000 - 1);
      t.notOk(b.lock.isLeader(), 'not before its next attempt');
      const elected = once(b.lock, 'elected');
      await b.clock.advance(1);
      await elected;
      t.ok(b.lock.isLeader(), 'elected at the attempt leaderRetrySeconds later');
      // the old leader reconnects at its next attempt and stays a follower
      await a.clock.advance(RETRY_SECONDS * 1000);
      t.notOk(a.lock.isLeader());
      t.equal(await a.lock.leaderId(), 'b:2');
    },
  );

  t.test('the leader closing (a clean stop) hands over at the next attempt', async (t) => {
    const url = await cluster.createDatabase('clean_stop');
    const a = await openLock(t, url, 'a:1');
    const b = await openLock(t, url, 'b:2');
    await a.lock.close();
    await b.clock.advance(RETRY_SECONDS * 1000);
    t.ok(b.lock.isLeader());
  });

  t.test('start lock: a replica opens the data directory only after the one before has', async (t) => {
    const url = await cluster.createDatabase('start_lock');
    const a = new PostgresLeaderLock(url, {
      retrySeconds: RETRY_SECONDS,
      logger: silentLogger,
      replicaId: 'a:1',
      clock: new ManualClock(),
    });
    const b = new PostgresLeaderLock(url, {
      retrySeconds: RETRY_SECONDS,
      logger: silentLogger,
      replicaId: 'b:2',
      clock: new ManualClock(),
    });
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    await a.start();
    let bStarted = false;
    const bStart = b.start().then(() => (bStarted = true));
    // observable: PostgreSQL shows b's session waiting for the lock a holds
    await waitFor('b waiting on the start lock', () => waitingLocks(url));
    t.notOk(bStarted, 'b waits while a opens');
    await a.startDone();
    await bStart;
    t.ok(bStarted);
    t.notOk(b.isLeader());
  });

  // last: it restarts the cluster the other tests use
  t.test('PostgreSQL restarted: both lose the session, exactly one is elected again', async (t) => {
    const url = await cluster.createDatabase('restart');
    const a = await openLock(t, url, 'a:1');
    const b = await openLock(t, url, 'b:2');
    const lost = once(a.lock, 'lost');
    await cluster.restart();
    await lost;
    t.notOk(a.lock.isLeader(), 'the leader lost its lock with its session');
    await a.clock.advance(RETRY_SECONDS * 1000);
    await b.clock.advance(RETRY_SECONDS * 1000);
    t.equal([a.lock.isLeader(), b.lock.isLeader()].filter(Boolean).length, 1, 'exactly one leader');
  });
}
