import { ErrorCodes, PatchbayError, errorMessage, isPatchbayError } from '@patchbay/core';
import type { Logger } from '@patchbay/core';

export interface FailoverAttempt {
  server: string;
  error: string;
}

/**
 * A server is skipped for the next one on a connection error or a 5xx (CONTRACT §4);
 * any other failure (a 4xx, an invalid document, a digest mismatch) is a real answer.
 */
export function isFailoverError(err: unknown): boolean {
  if (isPatchbayError(err, ErrorCodes.NETWORK)) return true;
  if (isPatchbayError(err, ErrorCodes.HTTP_STATUS)) {
    const status = Number(err.context.status);
    return !Number.isFinite(status) || status >= 500;
  }
  // undici / node socket errors that no layer wrapped
  return !isPatchbayError(err) && err instanceof Error && 'code' in err;
}

/** Strip trailing slashes so `${server}/v1/...` never doubles one. */
export function normaliseServer(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * Run `attempt` against each server in order until one answers. When every server
 * fails over, throws PB_ERR_NETWORK listing each server and why (context.attempts).
 */
export async function withFailover<T>(
  servers: readonly string[],
  what: string,
  attempt: (server: string) => Promise<T>,
  logger?: Logger,
): Promise<{ value: T; server: string; attempts: FailoverAttempt[] }> {
  const attempts: FailoverAttempt[] = [];
  for (const raw of servers) {
    const server = normaliseServer(raw);
    try {
      const value = await attempt(server);
      return { value, server, attempts };
    } catch (err) {
      if (!isFailoverError(err)) throw err;
      attempts.push({ server, error: errorMessage(err) });
      logger?.warn({ server, err: errorMessage(err) }, `${what}: staging server failed, trying the next`);
    }
  }
  const detail = attempts.map((a) => `${a.server} (${a.error})`).join('; ');
  throw new PatchbayError(
    ErrorCodes.NETWORK,
    `${what}: no staging server answered: ${detail || 'none configured'}`,
    {
      attempts,
    },
  );
}
