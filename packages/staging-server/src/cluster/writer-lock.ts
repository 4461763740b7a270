// The lock a command that writes the data directory takes (`sync`, `gc`, `import`): the
// directory lock as always and, when replicas share the directory (database.url), the
// leader lock too. A command refuses while a replica leads (it would write beside that
// leader); holding the leader lock while it runs, no replica becomes leader meanwhile (they
// go on serving as followers, and one takes over when the command ends).
import { ErrorCodes, PatchbayError, type Logger, type ServerConfig } from '@patchbay/core';
import { databaseError, displayDatabaseUrl } from '../database/postgres-pool.js';
import { lockDataDir, type DataDirLock } from '../store/data-dir-lock.js';
import { PostgresLeaderLock } from './leader-lock.js';
import { localReplicaId } from './leadership.js';

export async function lockDataDirForWriting(
  config: Pick<ServerConfig, 'dataDir' | 'database' | 'cluster'>,
  logger: Logger,
): Promise<DataDirLock> {
  const dirLock = await lockDataDir(config.dataDir, logger);
  const url = config.database?.url;
  if (url === null || url === undefined) return dirLock;
  const leader = new PostgresLeaderLock(url, {
    retrySeconds: config.cluster?.leaderRetrySeconds ?? 5,
    logger,
    replicaId: `${localReplicaId()} (command)`,
  });
  try {
    await leader.start();
    await leader.startDone();
  } catch (err) {
    await leader.close();
    await dirLock.release();
    throw databaseError(`cannot take the leader lock on ${displayDatabaseUrl(url)}`, err);
  }
  if (!leader.isLeader()) {
    const holder = await leader.leaderId();
    await leader.close();
    await dirLock.release();
    throw new PatchbayError(
      ErrorCodes.LOCKED,
      `data directory ${config.dataDir} is shared by patchbay-server replicas and ${holder === null ? 'a replica' : `replica ${holder}`} leads (it syncs and collects); stop the replicas first`,
      { dataDir: config.dataDir, ...(holder === null ? {} : { leader: holder }) },
    );
  }
  return {
    path: dirLock.path,
    release: async () => {
      await leader.close();
      await dirLock.release();
    },
  };
}
