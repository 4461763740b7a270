import { ErrorCodes, PatchbayError, errorMessage, isPatchbayError } from '@patchbay/core';
import type { Logger } from '@patchbay/core';
import type { Upstream } from './upstream.js';

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

/**
 * Run `attempt` against each upstream in order until one answers. When every upstream
 * fails over, throws PB_ERR_NETWORK listing each and why (context.attempts).
 */
export async function withFailover<U extends Pick<Upstream, 'url'>, T>(
  upstreams: readonly U[],
  what: string,
  attempt: (upstream: U) => Promise<T>,
  logger?: Logger,
): Promise<{ value: T; upstream: U; attempts: FailoverAttempt[] }> {
  const attempts: FailoverAttempt[] = [];
  for (const upstream of upstreams) {
    try {
      const value = await attempt(upstream);
      return { value, upstream, attempts };
    } catch (err) {
      if (!isFailoverError(err)) throw err;
      attempts.push({ server: upstream.url, error: errorMessage(err) });
      logger?.warn(
        { server: upstream.url, err: errorMessage(err) },
        `${what}: ${upstream.url} failed, trying the next`,
      );
    }
  }
  const detail = attempts.map((a) => `${a.server} (${a.error})`).join('; ');
  throw new PatchbayError(ErrorCodes.NETWORK, `${what}: no server answered: ${detail || 'none configured'}`, {
    attempts,
  });
}
