// tuf-js's Fetcher for the upstream TUF repository, over core's request function: the same
// proxy, stall timeout, retries and origin policy (upstream/origin-policy.ts, every URL and
// redirect hop checked before it is requested) as every other fetch of a sync. tuf-js's
// BaseFetcher cuts a body at the length the trusted metadata allows; it needs a
// DownloadHTTPError with the status to tell "no newer root" (404) from a failure.
import { Readable } from 'node:stream';
import {
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_RETRY_CAP_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  openUrl,
  statusError,
  withRetry,
  type RetryOptions,
} from '@patchbay/core';
import { BaseFetcher } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';

export class UpstreamTufFetcher extends BaseFetcher {
  constructor(private readonly retry: RetryOptions) {
    super();
  }

  /** tuf-js 5 reads a web ReadableStream (`getReader()`): the Node body stream is wrapped as one. */
  async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const { retry } = this;
    const policy = {
      retries: retry.retries ?? 4,
      baseMs: retry.retryBaseMs ?? DEFAULT_RETRY_BASE_MS,
      capMs: retry.retryCapMs ?? DEFAULT_RETRY_CAP_MS,
      ...(retry.signal ? { signal: retry.signal } : {}),
      ...(retry.onRetry ? { onRetry: retry.onRetry } : {}),
    };
    return withRetry(url, policy, async () => {
      const res = await openUrl(url, {
        ...(retry.checkUrl ? { checkUrl: retry.checkUrl } : {}),
        ...(retry.dispatcher ? { dispatcher: retry.dispatcher } : {}),
        ...(retry.signal ? { signal: retry.signal } : {}),
        stallTimeoutMs: retry.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
        // metadata bytes are what the signatures cover: never let anything re-encode them
        headers: { 'accept-encoding': 'identity' },
      });
      if (res.status === 200) return Readable.toWeb(res.body) as ReadableStream<Uint8Array<ArrayBuffer>>;
      await res.discard();
      // 5xx and 429 are retried (statusError); any other status is tuf-js's to judge
      if (res.status >= 500 || res.status === 429 || res.status === 408) throw statusError(url, res);
      throw new DownloadHTTPError(`GET ${url} answered HTTP ${res.status}`, res.status);
    });
  }
}
