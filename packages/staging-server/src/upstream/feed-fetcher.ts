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
    if (isPatchbayError(err)) {
      throw new PatchbayError(
        err.code,
        `feed ${feedUrl}: ${err.message}`,
        { ...err.context, url: feedUrl },
        { cause: err },
      );
    }
    throw new PatchbayError(
      ErrorCodes.NETWORK,
      `feed ${feedUrl}: ${errorMessage(err)}`,
      { url: feedUrl },
      { cause: err },
    );
  }
}
