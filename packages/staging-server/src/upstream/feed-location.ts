// Where feed.json and its files live, for http(s): and file: upstreams alike.
import { ErrorCodes, PatchbayError } from '@patchbay/core';

const SUPPORTED_PROTOCOLS = new Set(['http:', 'https:', 'file:']);

/**
 * upstream.url names the feed directory (CONTRACT §1); a URL ending in `.json`
 * is taken as the feed file itself. Returns the absolute URL of feed.json.
 */
export function resolveFeedUrl(upstreamUrl: string): string {
  let url: URL;
  try {
    url = new URL(upstreamUrl);
  } catch {
    throw new PatchbayError(
      ErrorCodes.UNSUPPORTED_URL,
      `upstream.url "${upstreamUrl}" is not an absolute URL`,
      {
        url: upstreamUrl,
      },
    );
  }
  if (!SUPPORTED_PROTOCOLS.has(url.protocol)) {
    throw new PatchbayError(
      ErrorCodes.UNSUPPORTED_URL,
      `upstream.url "${upstreamUrl}": scheme ${url.protocol} is not supported (http:, https:, file:)`,
      { url: upstreamUrl },
    );
  }
  if (url.pathname.endsWith('.json')) return url.href;
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL('feed.json', url).href;
}

/** A patch file's absolute URL: relative URLs resolve against the feed directory. */
export function resolveFileUrl(feedUrl: string, fileUrl: string): string {
  const resolved = new URL(fileUrl, feedUrl);
  if (!SUPPORTED_PROTOCOLS.has(resolved.protocol)) {
    throw new PatchbayError(
      ErrorCodes.UNSUPPORTED_URL,
      `file URL "${fileUrl}": scheme ${resolved.protocol} is not supported`,
      { url: fileUrl },
    );
  }
  return resolved.href;
}
