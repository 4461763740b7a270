// The conditional GET of feed.json: downloaded only when it changed upstream.
import {
  errorMessage,
  fetchConditional,
  isPatchbayError,
  PatchbayError,
  ErrorCodes,
  type RetryOptions,
} from '@patchbay/core';
import type { UpstreamValidators } from '../store/sync-state.js';

export type FetchedFeed =
  { notModified: true } | { notModified: false; bytes: Buffer; validators: UpstreamValidators };

export interface FeedFetchOptions extends RetryOptions {
  maxBytes: number;
}

/** feed.json.sig is a line of base64: anything longer is not a signature. */
const MAX_SIGNATURE_BYTES = 4096;

/**
 * GET feed.json.sig (unconditionally: it must belong to the feed bytes just fetched),
 * with the same retry machinery. undefined when upstream has none (404/410).
 */
export async function fetchFeedSignature(sigUrl: string, opts: RetryOptions): Promise<Buffer | undefined> {
  try {
    const result = await fetchConditional(sigUrl, {}, { ...opts, maxBytes: MAX_SIGNATURE_BYTES });
    return result.notModified ? undefined : result.body;
  } catch (err) {
    const status = isPatchbayError(err, ErrorCodes.HTTP_STATUS) ? err.context.status : undefined;
    if (status === 404 || status === 410) return undefined;
    throw wrapFeedError(sigUrl, err);
  }
}

/**
 * GET feed.json with If-None-Match / If-Modified-Since from the last accepted feed.
 * Errors keep their core code and get a message that names the feed URL.
 */
export async function fetchFeed(
  feedUrl: string,
  validators: UpstreamValidators,
  opts: FeedFetchOptions,
): Promise<FetchedFeed> {
  try {
    const result = await fetchConditional(feedUrl, validators, opts);
    if (result.notModified) return { notModified: true };
    const fresh: UpstreamValidators = {};
    if (result.etag) fresh.etag = result.etag;
    if (result.lastModified) fresh.lastModified = result.lastModified;
    return { notModified: false, bytes: result.body, validators: fresh };
  } catch (err) {
    throw wrapFeedError(feedUrl, err);
  }
}

/** Errors keep their core code and get a message that names the URL. */
function wrapFeedError(url: string, err: unknown): PatchbayError {
  if (isPatchbayError(err)) {
    return new PatchbayError(
      err.code,
      `feed ${url}: ${err.message}`,
      { ...err.context, url },
      { cause: err },
    );
  }
  return new PatchbayError(ErrorCodes.NETWORK, `feed ${url}: ${errorMessage(err)}`, { url }, { cause: err });
}
