// keyv's PostgreSQL adapter (@keyv/postgres) on a pool this process owns, for the sync state
// when database.url is set.
//
// Why not @keyv/postgres as it comes: 2.2 keeps one module-wide pool, replaced when another
// URI is opened, and its disconnect() ends that shared pool — closing one store (an import's)
// would end the pool of another still in use (the mirror's). Here connect() and disconnect()
// are this adapter's own; the SQL and the table layout (key VARCHAR(255) PRIMARY KEY, value
// TEXT) stay the library's.
//
// The table is created through migratePostgres before the adapter is made: @keyv/postgres
// runs CREATE TABLE IF NOT EXISTS from its constructor, which two replicas starting at once
// can race (a unique violation on pg_type, which it swallows, and any other failure only
// emitted as an event); under the migrations' advisory lock the table exists before, and
// that statement is a no-op.
import { KeyvPostgres } from '@keyv/postgres';
import type pg from 'pg';
import { isPatchbayError, type Logger } from '@patchbay/core';
import { databaseError, openPostgresPool } from '../database/postgres-pool.js';
import { migratePostgres, type PostgresMigration } from '../database/postgres-migrations.js';
import { retryOnLostConnection } from '../database/postgres-reconnect.js';

export const SYNC_STATE_TABLE = 'patchbay_sync_state';

export const SYNC_STATE_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    why: "the sync state's keyv table, in @keyv/postgres's layout",
    sql: `CREATE TABLE ${SYNC_STATE_TABLE} (key VARCHAR(255) PRIMARY KEY, value TEXT)`,
  },
];

/** @keyv/postgres with its queries on `pool`, which disconnect() ends. */
function keyvPostgresOnPool(pool: pg.Pool): KeyvPostgres {
  class KeyvPostgresOnPool extends KeyvPostgres {
    override async connect(): Promise<(sql: string, values?: unknown[]) => Promise<unknown[]>> {
      return async (sql, values) => {
        try {
          return (await retryOnLostConnection(pool, () => pool.query(sql, values))).rows;
        } catch (err) {
          throw databaseError('cannot read or write the sync state in PostgreSQL', err);
        }
      };
    }

    override async disconnect(): Promise<void> {
      // Closing twice is allowed, as with the SQLite adapter.
      if (!pool.ending) await pool.end();
    }
  }
  return new KeyvPostgresOnPool({ table: SYNC_STATE_TABLE, schema: 'public' });
}

/** A keyv store adapter on `url`: its pool opened and checked, its table created or brought up to date. */
export async function openKeyvPostgres(url: string, logger?: Logger): Promise<KeyvPostgres> {
  // A sync writes a handful of keys, one at a time: two connections are plenty.
  const pool = await openPostgresPool(url, {
    poolSize: 2,
    applicationName: 'patchbay-server sync state',
    ...(logger ? { logger } : {}),
  });
  try {
    await migratePostgres(pool, 'sync-state', SYNC_STATE_MIGRATIONS);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw isPatchbayError(err) ? err : databaseError('cannot prepare the sync state table', err);
  }
  return keyvPostgresOnPool(pool);
}
