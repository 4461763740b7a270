// A PostgreSQL restart (or failover) cuts every pooled connection. The pool drops one when it
// notices, but an idle connection cut while this process was busy is still handed out and the
// next statement on it fails at once. One retry, on a fresh connection, makes that statement
// succeed once the server is back; a server still down fails the retry too, and the error
// reaches the caller (nothing is reported as done that was not).
import { errorMessage } from '@patchbay/core';

/** SQLSTATEs of a connection the server ended (admin or crash shutdown, starting up). */
const ENDED_BY_SERVER = new Set(['57P01', '57P02', '57P03']);

/** True for an error that says the connection was lost, not that the statement was wrong. */
export function isLostConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // class 08: connection exception
    if (ENDED_BY_SERVER.has(code) || code.startsWith('08')) return true;
    if (code === 'ECONNRESET' || code === 'EPIPE') return true;
  }
  return /^Connection terminated/.test(errorMessage(err));
}

/**
 * Runs `statement`, and once more when the first attempt lost its connection. Only for
 * statements that may safely run twice (reads, upserts of the same value): the first may
 * have committed before its answer was lost.
 */
export async function retryOnLostConnection<T>(statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (err) {
    if (!isLostConnection(err)) throw err;
    return statement();
  }
}
