// Which URLs the mirror may fetch (CONTRACT §5): patch files only from the feed's own origin
// or upstream.allowedOrigins; file: only when the feed itself is file:, and only inside its
// directory; a redirect may not change scheme or leave those origins. One rule set for a
// vendor feed, a parent mirror's catalog and an import bundle. Pure: no I/O here (the
// symlink check that needs realpath is in url-guard.ts, on top of `checkResolvedPath`).
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, isInside, normaliseOrigin, PatchbayError } from '@patchbay/core';

export interface OriginPolicy {
  /** the feed document's absolute URL (feed.json, or a parent's /v1/catalog) */
  feedUrl: string;
  /** scheme+host+port of an http(s) feed; null for a file: feed */
  feedOrigin: string | null;
  /** a file: feed's directory (the only place its files may be); null for an http(s) feed */
  feedDir: string | null;
  /** upstream.allowedOrigins, normalised */
  allowedOrigins: readonly string[];
  /** how messages name feedDir ("feed directory", "bundle directory") */
  dirLabel: string;
}

export type RefusalReason =
  /** not an absolute URL, or a file: URL that names no local path */
  | 'invalid'
  /** a scheme other than http:, https: and file: */
  | 'scheme'
  /** an http(s) URL on an origin that is neither the feed's nor allowed */
  | 'origin'
  /** a file: URL named by a feed that is not itself file: */
  | 'file-scheme'
  /** a file: URL outside the feed directory (as written, `..` included) */
  | 'outside'
  /** a file: URL inside the directory as written that resolves (symlinks) outside it */
  | 'symlink'
  /** a redirect to another scheme */
  | 'redirect-scheme';

/** Why a URL may not be fetched; `message` is what /v1/status and the CLI show. */
export interface UrlRefusal {
  reason: RefusalReason;
  url: string;
  message: string;
  /** set when the URL is a redirect target */
  redirectedFrom?: string;
}

/** The policy for a feed at `feedUrl` (absolute) with upstream.allowedOrigins `allowedOrigins`. */
export function originPolicy(
  feedUrl: string,
  allowedOrigins: readonly string[] | undefined = [],
  dirLabel = 'feed directory',
): OriginPolicy {
  const url = new URL(feedUrl);
  const allowed = (allowedOrigins ?? [])
    .map((origin) => normaliseOrigin(origin))
    .filter((origin): origin is string => origin !== null);
  if (url.protocol === 'file:') {
    return {
      feedUrl: url.href,
      feedOrigin: null,
      feedDir: fileURLToPath(new URL('.', url)).replace(/[\\/]+$/, '') || sep,
      allowedOrigins: allowed,
      dirLabel,
    };
  }
  return { feedUrl: url.href, feedOrigin: url.origin, feedDir: null, allowedOrigins: allowed, dirLabel };
}

function parse(url: string | URL): URL | null {
  if (url instanceof URL) return url;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * Null when the absolute `url` may be fetched under `policy`, else why not. For a file: URL
 * this checks the path as written; `checkResolvedPath` checks where it really leads.
 */
export function checkFileUrl(url: string | URL, policy: OriginPolicy): UrlRefusal | null {
  const parsed = parse(url);
  if (parsed === null) {
    return { reason: 'invalid', url: String(url), message: `"${String(url)}" is not an absolute URL` };
  }
  const href = parsed.href;
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
    if (parsed.origin === policy.feedOrigin || policy.allowedOrigins.includes(parsed.origin)) return null;
    const message =
      policy.feedOrigin === null
        ? `${href} is not in upstream.allowedOrigins (the feed is ${policy.feedUrl})`
        : `${href} is not the feed's origin ${policy.feedOrigin} or in upstream.allowedOrigins`;
    return { reason: 'origin', url: href, message };
  }
  if (parsed.protocol !== 'file:') {
    return {
      reason: 'scheme',
      url: href,
      message: `${href}: scheme ${parsed.protocol} is not fetched (http:, https:, or file: for a file: feed)`,
    };
  }
  if (policy.feedDir === null) {
    return {
      reason: 'file-scheme',
      url: href,
      message: `file url ${href} is refused: file: urls are read only for a file: feed, and the feed is ${policy.feedUrl}`,
    };
  }
  let path: string;
  try {
    path = fileURLToPath(parsed);
  } catch {
    return { reason: 'invalid', url: href, message: `file url ${href} names no local path` };
  }
  if (!isInside(policy.feedDir, path)) {
    return {
      reason: 'outside',
      url: href,
      message: `file url ${href} is outside the ${policy.dirLabel} ${policy.feedDir}`,
    };
  }
  return null;
}

/**
 * The symlink half of the file: rule: `realPath` is where the file url leads once every link
 * is followed, `realDir` the feed directory's own real path. (Where the link leads is not
 * named: it can say more about this machine than the feed should learn.)
 */
export function checkResolvedPath(
  url: string,
  realPath: string,
  realDir: string,
  policy: OriginPolicy,
): UrlRefusal | null {
  if (isInside(realDir, realPath)) return null;
  return {
    reason: 'symlink',
    url,
    message: `file url ${url} is outside the ${policy.dirLabel} ${policy.feedDir ?? realDir}: a symlink leads out of it`,
  };
}

/** A redirect from `from` to `to`: same scheme, and `to` must pass checkFileUrl. */
export function checkRedirect(from: URL, to: URL, policy: OriginPolicy): UrlRefusal | null {
  if (to.protocol !== from.protocol) {
    return {
      reason: 'redirect-scheme',
      url: to.href,
      redirectedFrom: from.href,
      message: `redirect from ${from.href} to ${to.href} refused: a redirect may not change the scheme (${from.protocol} to ${to.protocol})`,
    };
  }
  const refusal = checkFileUrl(to, policy);
  if (refusal === null) return null;
  return {
    ...refusal,
    redirectedFrom: from.href,
    message: `redirect from ${from.href} to ${to.href} refused: ${refusal.message}`,
  };
}

/** PB_ERR_URL_REFUSED for a refusal; context: url, reason, redirectedFrom, feedUrl. */
export function refusalError(refusal: UrlRefusal, policy: OriginPolicy): PatchbayError {
  return new PatchbayError(ErrorCodes.URL_REFUSED, refusal.message, {
    url: refusal.url,
    reason: refusal.reason,
    ...(refusal.redirectedFrom !== undefined ? { redirectedFrom: refusal.redirectedFrom } : {}),
    feedUrl: policy.feedUrl,
  });
}
