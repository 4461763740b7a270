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
  // A parent staging server (tiered mirrors): its signed catalog is the feed.
  if (isMirrorCatalogPath(url.pathname)) {
    url.pathname = url.pathname.replace(/\/$/, '');
    return url.href;
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL('feed.json', url).href;
}

/**
 * True for a parent staging server's catalog URL (`…/v1/catalog`), which a child mirrors
 * as its feed; its signature is `…/v1/catalog.sig` and its blobs `…/v1/blobs/sha256/<hex>`.
 */
export function isMirrorCatalogPath(pathname: string): boolean {
  return /\/v1\/catalog\/?$/.test(pathname);
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
