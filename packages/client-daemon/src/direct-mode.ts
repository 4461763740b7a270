// Direct mode: a `server` entry may be a vendor feed instead of a staging server. This
// module knows which entry is which (from the URL's documented shape, never from what a
// server answers), where a feed keeps each file, and what that means for downloads and reports.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { FeedFile, Logger } from '@patchbay/core';
import type { Ledger } from './ledger.js';

export type ServerKind = 'staging' | 'feed';

/** Where a feed's documents live, from a `server` entry (normalised: no trailing slash). */
export interface FeedLocation {
  /** the feed directory, ending in '/': relative file urls resolve against it */
  dir: string;
  feedUrl: string;
  sigUrl: string;
}

/**
 * The documented shape of a vendor feed URL: `file:` (staging servers speak HTTP) or an
 * http(s) URL naming `…/feed.json`. Every other `server` is a staging server.
 */
export function feedByShape(server: string): boolean {
  try {
    const url = new URL(server);
    return url.protocol === 'file:' || url.pathname.endsWith('/feed.json');
  } catch {
    return false;
  }
}

/** What `server` is, from the config alone (CONTRACT §5: never from what it answers). */
export function serverKind(server: string): ServerKind {
  return feedByShape(server) ? 'feed' : 'staging';
}

export function feedLocation(server: string): FeedLocation {
  const url = new URL(server);
  if (url.pathname.endsWith('/feed.json')) url.pathname = url.pathname.slice(0, -'feed.json'.length);
  else if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  const dir = url.href;
  return { dir, feedUrl: new URL('feed.json', dir).href, sigUrl: new URL('feed.json.sig', dir).href };
}

/**
 * For feeds, the URL of each file by digest (from the last feed verified in this process).
 * One per process: a download needs the URL of a feed it did not load the catalog from.
 */
export class ServerDirectory {
  private readonly files = new Map<string, Map<string, string>>();
  /** loads (and verifies) a feed so its file urls are known: set by CatalogSource */
  preparer: ((server: string) => Promise<void>) | undefined;

  kind(server: string): ServerKind {
    return serverKind(server);
  }

  isFeed(server: string): boolean {
    return feedByShape(server);
  }

  /** A feed's files by digest (absolute URLs), replacing what an older feed said. */
  indexFeed(server: string, files: Iterable<FeedFile>): void {
    const bySha = new Map<string, string>();
    for (const file of files) bySha.set(file.sha256, file.url);
    this.files.set(server, bySha);
  }

  feedFileUrl(server: string, sha256: string): string | undefined {
    return this.files.get(server)?.get(sha256);
  }

  hasFeedIndex(server: string): boolean {
    return this.files.has(server);
  }

  /** Tests: forget everything. */
  reset(): void {
    this.files.clear();
    this.preparer = undefined;
  }
}

export const serverDirectory = new ServerDirectory();

/**
 * Where `server` serves the file with this digest: a staging server's blob URL, or the
 * URL the server's feed names for it. A feed whose index is not loaded yet (the catalog
 * came from another server) is loaded and verified first. A feed that does not name the
 * digest cannot serve it: PB_ERR_NETWORK, so failover moves on to the next server.
 */
export async function blobUrl(server: string, file: Pick<FeedFile, 'sha256' | 'name'>): Promise<string> {
  const dir = serverDirectory;
  if (dir.isFeed(server) && !dir.hasFeedIndex(server)) {
    // a server that cannot be prepared (down, refused) fails over like a failed download
    await dir.preparer?.(server);
  }
  if (!dir.isFeed(server)) return `${server}/v1/blobs/sha256/${file.sha256}`;
  const url = dir.feedFileUrl(server, file.sha256);
  if (url === undefined) {
    throw new PatchbayError(
      ErrorCodes.NETWORK,
      `${server} is a vendor feed that names no file with sha256 ${file.sha256} (${file.name})`,
      { server, sha256: file.sha256, file: file.name },
    );
  }
  return url;
}

/** The servers a report can go to: a vendor feed takes none. */
export function reportServers(servers: readonly string[]): string[] {
  return servers.filter((s) => !serverDirectory.isFeed(s.replace(/\/+$/, '')));
}

/**
 * Direct mode (every server is a feed): nobody will ever take the report, so the events
 * are acknowledged locally instead of growing an outbox that is never delivered. The
 * ledger keeps them: `status` and `history` show them, and mails went out before this.
 */
export async function keepReportsLocal(
  ledger: Ledger,
  logger: Logger,
): Promise<{ delivered: boolean; sent: number; pending: number; local: true }> {
  const pending = ledger.pendingEvents();
  const last = pending.at(-1);
  if (last) {
    await ledger.acknowledge(last.seq);
    logger.debug({ events: pending.length }, 'direct mode: events kept locally (no staging server)');
  }
  return { delivered: true, sent: 0, pending: 0, local: true };
}
