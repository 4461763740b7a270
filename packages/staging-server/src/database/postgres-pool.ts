// One pg.Pool per server process when database.url names PostgreSQL: the report store,
// the token store and the migrations share it (the leader lock and keyv hold their own
// connections). Why pg (node-postgres): the driver @keyv/postgres is built on, so one
// driver and one way of connecting serve every store.
import pg from 'pg';
import { ErrorCodes, PatchbayError, errorMessage, redactCredentials, type Logger } from '@patchbay/core';

export interface PostgresOptions {
  /** database.poolSize */
  poolSize?: number;
  /** a name PostgreSQL shows in pg_stat_activity.application_name */
  applicationName?: string;
  logger?: Logger;
}

/** The URL as it may be shown: without a password. */
export function displayDatabaseUrl(url: string): string {
  return redactCredentials(url);
}

/**
 * A pool on `url`, checked with one round trip so that a wrong URL, host or password fails
 * at start with an error naming the database (never a password), not at the first report.
 */
export async function openPostgresPool(url: string, options: PostgresOptions = {}): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'patchbay-server',
    // A connection PostgreSQL has dropped (a restart) is found at its next use and replaced;
    // keepalive finds one a dead network holds open.
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection that breaks (PostgreSQL restarted) emits 'error' on the pool: without
  // a listener that is an uncaught exception; the pool replaces the connection by itself.
  pool.on('error', (err) =>
    options.logger?.warn({ err: errorMessage(err) }, 'idle PostgreSQL connection lost'),
  );
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw databaseError(`cannot connect to PostgreSQL at ${displayDatabaseUrl(url)}`, err);
  }
  return pool;
}

/** A PatchbayError (PB_ERR_DATABASE) saying what failed, with PostgreSQL's reason and SQLSTATE. */
export function databaseError(what: string, cause: unknown): PatchbayError {
  const code = (cause as { code?: unknown } | null)?.code;
  return new PatchbayError(
    ErrorCodes.DATABASE,
    `${what}: ${errorMessage(cause)}`,
    typeof code === 'string' ? { sqlState: code } : {},
    { cause },
  );
}

/**
 * Run `work` in one transaction on one connection of the pool: committed when it resolves,
 * rolled back when it throws (and the error rethrown).
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // The pool hears a connection's errors only while it is idle: one raised between two
  // statements would be an uncaught 'error' event ending the process; the next statement fails instead.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', ignore);
    client.release();
  }
}

interface SharedPool {
  pool: Promise<pg.Pool>;
  users: number;
}

const sharedPools = new Map<string, SharedPool>();

/**
 * The process's one pool on `url` (opened at the first acquire, ended when the last user
 * releases it), so the stores of one server share database.poolSize connections rather
 * than each opening its own.
 */
export async function acquireSharedPool(
  url: string,
  options: PostgresOptions = {},
): Promise<{ pool: pg.Pool; release(): Promise<void> }> {
  let entry = sharedPools.get(url);
  if (!entry) {
    entry = { pool: openPostgresPool(url, options), users: 0 };
    sharedPools.set(url, entry);
  }
  const current = entry;
  current.users++;
  let pool: pg.Pool;
  try {
    pool = await current.pool;
  } catch (err) {
    current.users--;
    if (sharedPools.get(url) === current) sharedPools.delete(url);
    throw err;
  }
  let released = false;
  return {
    pool,
    async release() {
      if (released) return;
      released = true;
      current.users--;
      if (current.users > 0) return;
      if (sharedPools.get(url) === current) sharedPools.delete(url);
      await pool.end();
    },
  };
}
