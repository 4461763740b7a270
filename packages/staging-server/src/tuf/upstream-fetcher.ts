// tuf-js's Fetcher for the upstream TUF repository: core's TufHttpFetcher with the sync's own
// retry policy, proxy, stall timeout and origin policy (upstream/origin-policy.ts: every URL
// and redirect hop checked before it is requested), as every other fetch of a sync.
import {
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_RETRY_CAP_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  type RetryOptions,
} from '@patchbay/core';
import { TufHttpFetcher } from '@patchbay/core/tuf';

export function upstreamTufFetcher(retry: RetryOptions): TufHttpFetcher {
  return new TufHttpFetcher({
    ...(retry.dispatcher ? { dispatcher: retry.dispatcher } : {}),
    ...(retry.checkUrl ? { checkUrl: retry.checkUrl } : {}),
    ...(retry.signal ? { signal: retry.signal } : {}),
    stallTimeoutMs: retry.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    retry: {
      retries: retry.retries ?? DEFAULT_RETRIES,
      baseMs: retry.retryBaseMs ?? DEFAULT_RETRY_BASE_MS,
      capMs: retry.retryCapMs ?? DEFAULT_RETRY_CAP_MS,
      ...(retry.signal ? { signal: retry.signal } : {}),
      ...(retry.onRetry ? { onRetry: retry.onRetry } : {}),
    },
  });
}
