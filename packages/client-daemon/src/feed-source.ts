// A vendor feed used directly (direct mode), turned into the catalog shape the rest of
// the client works with: the same products, patches and rules, each file url made
// absolute against the feed directory.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { Catalog, Feed } from '@patchbay/core';
import type { FeedLocation } from './direct-mode.js';

export const CATALOG_FORMAT = 'patchbay-catalog/1';
export const FEED_FORMAT = 'patchbay-feed/1';

/**
 * The `format` a JSON document declares, or undefined when it is not a JSON object
 * with one. Used to tell a staging server's catalog from a vendor feed by what they serve.
 */
export function documentFormat(bytes: Buffer): string | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const format = (value as { format?: unknown }).format;
    return typeof format === 'string' ? format : undefined;
  } catch {
    return undefined;
  }
}

/** "This server is not that kind of server": the probe tries the other kind before giving up. */
export function wrongKindError(url: string, expected: string, found: string | undefined): PatchbayError {
  return new PatchbayError(
    ErrorCodes.FEED_INVALID,
    `${url} is not a ${expected} document (${found === undefined ? 'not a JSON object with a format' : `format "${found}"`})`,
    { url, expected, found, wrongKind: true },
  );
}

/**
 * The feed as a catalog: sequence and upstreamSequence are the feed's, nothing expires
 * (a feed carries no expiresAt), and every file url is absolute. A feed reached over
 * http(s) may not point files at file: URLs on this host; schemes other than http(s)
 * and file: are refused. Refusals are PB_ERR_FEED_INVALID naming the patch and file.
 */
export function feedToCatalog(feed: Feed, location: FeedLocation): Catalog {
  const local = location.dir.startsWith('file:');
  const patches = feed.patches.map((patch) => ({
    ...patch,
    files: patch.files.map((file) => {
      let url: URL;
      try {
        url = new URL(file.url, location.dir);
      } catch (err) {
        throw new PatchbayError(
          ErrorCodes.FEED_INVALID,
          `feed ${location.feedUrl}: patch ${patch.id} file ${file.name} url "${file.url}" is not a URL`,
          { patchId: patch.id, file: file.name, url: file.url },
          { cause: err },
        );
      }
      const allowed =
        url.protocol === 'http:' || url.protocol === 'https:' || (local && url.protocol === 'file:');
      if (!allowed) {
        throw new PatchbayError(
          ErrorCodes.FEED_INVALID,
          `feed ${location.feedUrl}: patch ${patch.id} file ${file.name} url "${file.url}" uses ${url.protocol}, ` +
            `which a feed reached over ${new URL(location.dir).protocol} may not name`,
          { patchId: patch.id, file: file.name, url: file.url },
        );
      }
      return { ...file, url: url.href };
    }),
  }));
  return {
    format: CATALOG_FORMAT,
    vendor: feed.vendor,
    sequence: feed.sequence,
    upstreamSequence: feed.sequence,
    generatedAt: feed.generatedAt,
    publishedAt: feed.generatedAt,
    products: feed.products,
    patches,
  };
}
