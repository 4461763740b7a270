// Reading a patchbay-feed/1 for import-feed: where the feed is, which URLs its files may have
// (the feed's own origin; for a file: feed only inside its directory, symlinks resolved;
// redirects never change scheme or origin), and fetching feed.json, its signature and files
// with core's fetch helpers, every URL and redirect hop checked before it is requested.
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ContentStore } from '@patchbay/core';
import {
  ErrorCodes,
  PatchbayError,
  downloadBlob,
  isInside,
  fetchConditional,
  type FeedFile,
  type RetryOptions,
} from '@patchbay/core';

export interface FeedLocation {
  /** absolute URL of feed.json */
  feedUrl: URL;
  /** the directory URL relative file URLs resolve against (ends in /) */
  baseUrl: URL;
  /** a file: feed's directory; undefined for http(s) */
  dir: string | undefined;
}

/** A feed argument (URL, or a directory path) as its feed.json URL and base. */
export function feedLocation(arg: string): FeedLocation {
  const looksLikeUrl = /^[a-z][a-z0-9+.-]+:/i.test(arg) && !/^[a-z]:[\\/]/i.test(arg);
  let url: URL;
  try {
    url = looksLikeUrl ? new URL(arg) : pathToFileURL(resolve(arg));
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.USAGE,
      `--feed ${arg} is neither a URL nor a directory path`,
      {},
      { cause: err },
    );
  }
  if (!['http:', 'https:', 'file:'].includes(url.protocol)) {
    throw new PatchbayError(
      ErrorCodes.USAGE,
      `--feed ${arg}: unsupported scheme ${url.protocol} (use http:, https: or file:)`,
      {},
    );
  }
  let feedUrl: URL;
  if (url.pathname.endsWith('/feed.json')) feedUrl = url;
  else {
    const dir = new URL(url.href);
    if (!dir.pathname.endsWith('/')) dir.pathname += '/';
    feedUrl = new URL('feed.json', dir);
  }
  const baseUrl = new URL('.', feedUrl);
  return { feedUrl, baseUrl, dir: baseUrl.protocol === 'file:' ? fileURLToPath(baseUrl) : undefined };
}

/** The core UrlCheck for everything fetched for this feed (feed.json, its signature, its files, redirects). */
export function feedUrlCheck(location: FeedLocation): (url: URL, redirectedFrom?: URL) => Promise<void> {
  return async (url, redirectedFrom) => {
    const problem = await urlProblem(location, url, redirectedFrom);
    if (problem !== undefined) {
      throw new PatchbayError(ErrorCodes.URL_REFUSED, problem, {
        url: url.href,
        ...(redirectedFrom ? { redirectedFrom: redirectedFrom.href } : {}),
      });
    }
  };
}

async function urlProblem(
  location: FeedLocation,
  url: URL,
  redirectedFrom?: URL,
): Promise<string | undefined> {
  const via = redirectedFrom ? ` (redirected from ${redirectedFrom.href})` : '';
  if (location.dir === undefined) {
    if (url.protocol !== location.baseUrl.protocol || url.origin !== location.baseUrl.origin) {
      return `${url.href}${via} is not on the feed's origin ${location.baseUrl.origin}`;
    }
    return undefined;
  }
  if (url.protocol !== 'file:')
    return `${url.href}${via}: a file: feed's files must be file: URLs inside its directory`;
  const path = fileURLToPath(url);
  if (!isInside(location.dir, path))
    return `file url ${url.href} is outside the feed directory ${location.dir}`;
  let real: string;
  let realDir: string;
  try {
    [real, realDir] = await Promise.all([realpath(path), realpath(location.dir)]);
  } catch {
    return undefined; // missing: the fetch says so
  }
  if (!isInside(realDir, real))
    return `file url ${url.href} leads outside the feed directory ${location.dir} (a symlink)`;
  return undefined;
}

/** GET a small document of the feed (feed.json, feed.json.sig). */
export async function fetchFeedDocument(
  location: FeedLocation,
  url: URL,
  opts: RetryOptions = {},
): Promise<Buffer> {
  const result = await fetchConditional(url.href, {}, { ...opts, checkUrl: feedUrlCheck(location) });
  if (result.notModified) throw new Error(`${url.href} answered 304 to an unconditional request`);
  return result.body;
}

/** Download one feed file into `store`, its size and SHA-256 checked; returns the verified blob's path. */
export async function fetchFeedFile(
  location: FeedLocation,
  file: FeedFile,
  store: ContentStore,
  opts: RetryOptions = {},
): Promise<string> {
  let url: URL;
  try {
    url = new URL(file.url, location.baseUrl);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.URL_REFUSED,
      `file ${file.name}: "${file.url}" is not a URL`,
      {},
      { cause: err },
    );
  }
  const result = await downloadBlob(
    { url: url.href, sha256: file.sha256, size: file.size, store },
    { ...opts, checkUrl: feedUrlCheck(location) },
  );
  return result.path;
}
