// The retry layer: runs one attempt function again on transient failures (5xx, 408/429,
// connection errors, stalls), with exponential backoff, jitter and Retry-After.
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, PatchbayError, isPatchbayError } from './errors.js';

export interface RetryPolicy {
  /** attempts after the first */
  retries: number;
  /** first backoff delay, doubled each time */
  baseMs: number;
  /** no single delay is longer (Retry-After included) */
  capMs: number;
  signal?: AbortSignal;
  onRetry?: (info: { url: string; attempt: number; delayMs: number; error: Error }) => void;
}

export const DEFAULT_RETRIES = 4;
export const DEFAULT_RETRY_BASE_MS = 250;
export const DEFAULT_RETRY_CAP_MS = 10_000;

/** Error codes of connection-level failures worth another attempt. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** True for a connection refused/reset/timeout/stall (looking through `cause` and AggregateError). */
export function isNetworkError(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && NETWORK_ERROR_CODES.has(code)) return true;
  if (err.message === 'socket hang up' || err.message === 'other side closed') return true;
  if (err instanceof AggregateError && err.errors.some((inner) => isNetworkError(inner, depth + 1)))
    return true;
  return isNetworkError(err.cause, depth + 1);
}

/** TLS failures (untrusted or mismatched certificate): final, but still a failure to reach the URL. */
export function isTlsError(err: unknown): boolean {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return (
    code !== undefined &&
    /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/.test(
      code,
    )
  );
}

/** HTTP statuses that say "try again later" rather than "this request is wrong". */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Whether another attempt may succeed. Digest/size mismatches and other 4xx never do. */
export function isRetryable(err: unknown): boolean {
  if (isPatchbayError(err)) {
    if (err.code === ErrorCodes.HTTP_STATUS) return isRetryableStatus(Number(err.context.status));
    if (err.code === ErrorCodes.NETWORK) return err.context.retryable !== false;
    return false;
  }
  return isNetworkError(err);
}

/** Delay before retry number `attempt` (1-based): base·2^(attempt-1), capped, with "equal jitter" (half fixed, half random). */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/** Retry-After (delta-seconds or an HTTP date) in ms; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The PB_ERR_ABORTED error for `url` when `signal` has fired. */
export function abortedError(url: string, signal: AbortSignal): PatchbayError {
  return new PatchbayError(
    ErrorCodes.ABORTED,
    `fetching ${url} was aborted`,
    { url },
    { cause: signal.reason },
  );
}

/**
 * Run `attempt` until it succeeds, fails with a non-retryable error, or the retries are spent.
 * Raw connection errors that outlast the retries, and TLS errors (not retried), become
 * PB_ERR_NETWORK naming the URL and the last cause; other raw errors (local disk) pass through; PatchbayErrors (HTTP status, digest, size…) pass through; an abort is PB_ERR_ABORTED.
 */
export async function withRetry<T>(
  url: string,
  policy: RetryPolicy,
  attempt: (attemptNumber: number) => Promise<T>,
): Promise<T> {
  for (let attemptNumber = 1; ; attemptNumber++) {
    if (policy.signal?.aborted) throw abortedError(url, policy.signal);
    try {
      return await attempt(attemptNumber);
    } catch (err) {
      if (policy.signal?.aborted)
        throw isPatchbayError(err, ErrorCodes.ABORTED) ? err : abortedError(url, policy.signal);
      const retriesLeft = attemptNumber <= policy.retries;
      if (!retriesLeft || !isRetryable(err)) throw finalError(err, url, attemptNumber);
      const error = err instanceof Error ? err : new Error(String(err));
      const delayMs = retryDelay(error, attemptNumber, policy);
      policy.onRetry?.({ url, attempt: attemptNumber, delayMs, error });
      try {
        await sleep(delayMs, undefined, policy.signal ? { signal: policy.signal } : {});
      } catch {
        throw abortedError(url, policy.signal!);
      }
    }
  }
}

function retryDelay(err: Error, attemptNumber: number, policy: RetryPolicy): number {
  const backoff = backoffDelay(attemptNumber, policy.baseMs, policy.capMs);
  const retryAfterMs = isPatchbayError(err) ? err.context.retryAfterMs : undefined;
  if (typeof retryAfterMs !== 'number') return backoff;
  return Math.min(policy.capMs, Math.max(backoff, retryAfterMs));
}

function finalError(err: unknown, url: string, attempts: number): unknown {
  if (isPatchbayError(err)) {
    if (attempts > 1) err.context.attempts = attempts;
    return err;
  }
  const tls = isTlsError(err);
  if (!tls && !isNetworkError(err)) return err;
  const cause = err as NodeJS.ErrnoException;
  const reason = cause.code ? `${cause.code}: ${cause.message}` : cause.message;
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  return new PatchbayError(
    ErrorCodes.NETWORK,
    `GET ${url} failed after ${tries}: ${reason}`,
    { url, attempts, cause: cause.code ?? cause.message, ...(tls ? { retryable: false } : {}) },
    { cause: err },
  );
}
