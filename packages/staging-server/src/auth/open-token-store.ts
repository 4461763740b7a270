// Which token store a process uses: database.url set — PostgreSQL, shared by every replica
// and the CLI; unset — <dataDir>/auth.sqlite, as a single server always had.
import type pg from 'pg';
import type { Logger } from '@patchbay/core';
import { acquireSharedPool } from '../database/postgres-pool.js';
import { PostgresTokenStore } from './postgres-token-store.js';
import { SqliteTokenStore } from './sqlite-token-store.js';
import type { TokenStore } from './token-store.js';

/** What openTokenStore reads of the config: a ServerConfig will do. */
export interface TokenStoreConfig {
  dataDir: string;
  /** database.url: a postgres:// URL puts the tokens in PostgreSQL; absent or null, <dataDir>/auth.sqlite */
  database?: { url?: string | null; poolSize?: number };
}

export interface OpenTokenStoreOptions {
  /** a pool on database.url to use (and leave open); absent: the process's shared pool on it */
  pool?: pg.Pool;
  /** connections of the shared pool when this opens it; default database.poolSize */
  poolSize?: number;
  logger?: Logger;
}

export async function openTokenStore(
  config: TokenStoreConfig,
  options: OpenTokenStoreOptions = {},
): Promise<TokenStore> {
  const url = config.database?.url ?? null;
  if (url === null) return SqliteTokenStore.open(config.dataDir);
  if (options.pool) return PostgresTokenStore.open(options.pool, {});
  const shared = await acquireSharedPool(url, {
    poolSize: options.poolSize ?? config.database?.poolSize ?? 10,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    return await PostgresTokenStore.open(shared.pool, { releasePool: () => shared.release() });
  } catch (err) {
    await shared.release();
    throw err;
  }
}
