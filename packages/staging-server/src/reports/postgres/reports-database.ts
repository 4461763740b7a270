// Statements and transactions of the PostgreSQL report store over the shared pool. Two
// things every query here needs: bigint columns (event ids, counts) read as numbers, not
// the strings pg gives by default (without changing pg's global parsers, which other stores
// share); and a connection PostgreSQL dropped (a restart, a failover) replaced instead of
// failing the caller. A statement or a transaction that had not committed when its
// connection broke is run again on a fresh one: every write of this store is idempotent
// (events are keyed, snapshots ordered by reportedAt), so running it twice stores it once.
import pg from 'pg';
import { PatchbayError } from '@patchbay/core';
import { databaseError } from '../../database/postgres-pool.js';
import { isLostConnection, reconnectAttempts } from '../../database/postgres-reconnect.js';

const INT8_OID = 20;

/** pg's parsers, but bigint → number (ids and counts stay far below 2^53). */
const PARSERS: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** SQLSTATEs after which PostgreSQL undid the work to let another go first: try it again. */
const RETRY_STATES = new Set([
  '40P01', // deadlock_detected: PostgreSQL chose this transaction to undo
  '40001', // serialization_failure
]);

/** The connection broke (postgres-reconnect.ts), or PostgreSQL undid the work to let another go first. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && RETRY_STATES.has(code)) || isLostConnection(err);
}

/** A statement each connection parses and plans once, then runs by name (those of every ingest). */
export interface Prepared {
  name: string;
  text: string;
}

export function prepared(name: string, text: string): Prepared {
  return { name: `reports.${name}`, text };
}

/** SQL text, or a prepared statement. */
export type Statement = string | Prepared;

/** Statements on one connection (inside a transaction) or on any (outside). */
export interface Sql {
  /** The result rows as objects, bigint as number. */
  rows<R>(statement: Statement, values?: readonly unknown[]): Promise<R[]>;
  /** The result rows as arrays (large reads: no object per row). */
  arrays<R extends unknown[]>(statement: Statement, values?: readonly unknown[]): Promise<R[]>;
}

function sqlOn(target: pg.Pool | pg.PoolClient): Sql {
  const query = (statement: Statement, values: readonly unknown[]) => ({
    ...(typeof statement === 'string' ? { text: statement } : statement),
    values: [...values],
    types: PARSERS,
  });
  return {
    rows: async <R>(statement: Statement, values: readonly unknown[] = []) =>
      (await target.query(query(statement, values))).rows as R[],
    arrays: async <R extends unknown[]>(statement: Statement, values: readonly unknown[] = []) =>
      (await target.query({ ...query(statement, values), rowMode: 'array' })).rows as R[],
  };
}

class CommitUnknown extends Error {}

const ignoreError = (): void => undefined;

export class ReportsDatabase implements Sql {
  private readonly any: Sql;

  constructor(readonly pool: pg.Pool) {
    this.any = sqlOn(pool);
  }

  rows<R>(statement: Statement, values?: readonly unknown[]): Promise<R[]> {
    return this.retried('reading the reports', () => this.any.rows<R>(statement, values));
  }

  arrays<R extends unknown[]>(statement: Statement, values?: readonly unknown[]): Promise<R[]> {
    return this.retried('reading the reports', () => this.any.arrays<R>(statement, values));
  }

  /** One statement on its own (autocommit), retried like a transaction; `what` names it in errors. */
  statement<R>(what: string, text: string, values?: readonly unknown[]): Promise<R[]> {
    return this.retried(what, () => this.any.rows<R>(text, values));
  }

  /**
   * `work` in one transaction on one connection: committed when it resolves, undone when it
   * throws. Run again (from the start, on a fresh connection) when PostgreSQL broke the
   * connection or undid the transaction before its commit; a commit whose answer was lost
   * is not run again, as its outcome is unknown. Errors are PB_ERR_DATABASE naming `what`.
   */
  transaction<T>(what: string, work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.retried(what, async () => {
      const client = await this.pool.connect();
      // The pool listens for a connection's errors only while it is idle: one raised between
      // two statements would be an uncaught 'error' event. Heard here, the next statement fails.
      client.on('error', ignoreError);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(sqlOn(client));
        try {
          await client.query('COMMIT');
        } catch (err) {
          if (isRetryable(err))
            throw new CommitUnknown('the commit was sent but its answer lost', { cause: err });
          throw err;
        }
        return result;
      } catch (err) {
        if (isRetryable(err) || err instanceof CommitUnknown) broken = err as Error;
        else await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', ignoreError);
        // A broken connection is destroyed, never handed to the next caller.
        client.release(broken);
      }
    });
  }

  private async retried<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    const attempts = reconnectAttempts(this.pool);
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (err) {
        if (err instanceof CommitUnknown) throw databaseError(`${what}: ${err.message}`, err.cause);
        if (err instanceof PatchbayError) throw err;
        if (tries >= attempts || !isRetryable(err)) throw databaseError(what, err);
      }
    }
  }
}
