// A PostgreSQL restart (or failover) cuts every pooled connection. The pool drops one when it
// notices, but an idle connection cut while this process was busy is still handed out and the
// next statement on it fails at once. Retrying on a fresh connection makes that statement
// succeed once the server is back; a server still down fails every try, and the error
// reaches the caller (nothing is reported as done that was not). The one place that says what
// a lost connection looks like: the stores' retries and the HTTP 503 read it.
import type pg from 'pg';
import { errorMessage } from '@patchbay/core';

/** SQLSTATEs of a connection the server ended (admin or crash shutdown, starting up). */
const ENDED_BY_SERVER = new Set(['57P01', '57P02', '57P03']);

/** Socket errors of a server that is gone or not there yet. */
const UNREACHABLE = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND']);

/**
 * True for an error that says the connection was lost or the server could not be reached,
 * not that the statement was wrong: the same work may succeed on another try.
 */
export function isLostConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // class 08: connection exception
    if (ENDED_BY_SERVER.has(code) || code.startsWith('08') || UNREACHABLE.has(code)) return true;
  }
  return /Connection terminated|not queryable|connection .*(closed|ended)/i.test(errorMessage(err));
}

/**
 * Tries of one statement on `pool` whose connection broke: after a restart every idle
 * connection of the pool is broken, and each try may draw (and destroy) one of them.
 */
export function reconnectAttempts(pool: pg.Pool): number {
  return Math.max(3, (pool.options.max ?? 10) + 2);
}

/**
 * Runs `statement`, again while it lost its connection, up to reconnectAttempts(pool) tries.
 * Only for statements that may safely run twice (reads, upserts of the same value): one may
 * have committed before its answer was lost.
 */
export async function retryOnLostConnection<T>(pool: pg.Pool, statement: () => Promise<T>): Promise<T> {
  const attempts = reconnectAttempts(pool);
  for (let tries = 1; ; tries++) {
    try {
      return await statement();
    } catch (err) {
      if (tries >= attempts || !isLostConnection(err)) throw err;
    }
  }
}
