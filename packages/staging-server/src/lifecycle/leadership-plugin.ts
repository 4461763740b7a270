// `serve`'s first plugin: which replica leads (cluster/). With database.url, a PostgreSQL
// advisory lock on a connection of its own; with SQLite, this one server, always. Registered
// first, so closed last: the lock is given up only once nothing in this process writes.
import { PostgresLeaderLock } from '../cluster/leader-lock.js';
import { soleLeader, type Leadership } from '../cluster/leadership.js';
import { databaseError, displayDatabaseUrl } from '../database/postgres-pool.js';
import { partPlugin, type LifecycleOptions } from './lifecycle-plugin.js';

async function openLeadership({ config, logger }: LifecycleOptions): Promise<Leadership> {
  const url = config.database.url;
  if (url === null || url === undefined) return soleLeader();
  const lock = new PostgresLeaderLock(url, { retrySeconds: config.cluster.leaderRetrySeconds, logger });
  try {
    await lock.start();
  } catch (err) {
    await lock.close();
    throw databaseError(`cannot take part in the leader election on ${displayDatabaseUrl(url)}`, err);
  }
  logger.info(
    { replica: lock.replicaId, leader: lock.isLeader(), database: displayDatabaseUrl(url) },
    lock.isLeader() ? 'replica started as the leader' : 'replica started as a follower',
  );
  return lock;
}

/** Decorates `leadership` (cluster/leadership.ts). */
export const leadershipPlugin = partPlugin<Leadership>({
  name: 'patchbay-leadership',
  decorator: 'leadership',
  part: 'leadership',
  open: openLeadership,
  close: (leadership) => leadership.close(),
});
