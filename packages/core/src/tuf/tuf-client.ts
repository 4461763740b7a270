// What the staging server (a TUF client of its upstream) and the host (a TUF client of its
// staging server) both need around tuf-js's Updater: where it starts (the trust anchor), a
// read of what it verified, and a Fetcher over patchbay's own request path. One copy, so both
// sides cut endless bodies, honour proxies and origin rules, and read tuf-js the same way.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Metadata, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { BaseFetcher } from 'tuf-js';
import type { Updater } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import type { Dispatcher } from 'undici';
import { writeFileAtomic } from '../atomic-file.js';
import { ErrorCodes, PatchbayError, errorMessage } from '../errors.js';
import { openUrl, statusError } from '../request.js';
import type { UrlCheck } from '../url-request.js';
import { withRetry } from '../retry.js';
import type { RetryPolicy } from '../retry.js';
import { parseMetadata } from './repository.js';

/** What tuf-js's Updater keeps after a refresh (its private `trustedSet`); see trustedSetOf. */
export interface TrustedSetView {
  readonly root: Metadata<Root>;
  readonly timestamp: Metadata<Timestamp> | undefined;
  readonly snapshot: Metadata<Snapshot> | undefined;
  readonly targets: Metadata<Targets> | undefined;
  getRole(name: string): Metadata<Targets> | undefined;
  /** the time tuf-js checks expiry against (set when the store is made) */
  referenceTime: Date;
}

/**
 * tuf-js keeps its verified metadata in a private field and has no API to list a role's
 * targets (only getTargetInfo for one path); patchbay needs every target of the roles it
 * reads. Reading that field is pinned to tuf-js 5 (package.json) and checked by the tests:
 * a version that renames it fails here, loudly.
 */
export function trustedSetOf(updater: Updater): TrustedSetView {
  const set = (updater as unknown as { trustedSet?: TrustedSetView }).trustedSet;
  if (!set || typeof set.getRole !== 'function' || !(set.referenceTime instanceof Date)) {
    throw new Error('tuf-js Updater has no trustedSet: the pinned tuf-js version changed');
  }
  return set;
}

/** A refreshed trusted set: timestamp, snapshot and top-level targets all verified. */
export interface RefreshedSet {
  set: TrustedSetView;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  targets: Metadata<Targets>;
}

/**
 * tuf-js's refresh (root chain, timestamp, snapshot, top-level targets), then its trusted set.
 * `refusal` turns what tuf-js throws into the caller's error; PB_ERR_TUF_VERIFY (with `context`)
 * when the refresh left a top-level role out. `what` names the repository in messages.
 */
export async function refreshTrustedSet(
  updater: Updater,
  what: string,
  refusal: (what: string, err: unknown) => PatchbayError,
  context: Record<string, unknown>,
): Promise<RefreshedSet> {
  try {
    await updater.refresh();
  } catch (err) {
    throw refusal(what, err);
  }
  const set = trustedSetOf(updater);
  const { timestamp, snapshot, targets } = set;
  if (!timestamp || !snapshot || !targets) {
    throw new PatchbayError(
      ErrorCodes.TUF_VERIFY,
      `${what}: refresh left no timestamp, snapshot or targets`,
      context,
    );
  }
  return { set, timestamp, snapshot, targets };
}

/**
 * Load and verify one `<product>~<release>` role through tuf-js: asking for a path inside its
 * delegation makes the Updater fetch and verify that role, and only it. `refusal` turns what
 * tuf-js throws into the caller's error; PB_ERR_TUF_VERIFY (with `context`) when the role still
 * did not load. `what` names the repository in messages.
 */
export async function loadDelegatedRole(
  updater: Updater,
  role: { name: string; product: string; release: string },
  what: string,
  refusal: (what: string, err: unknown) => PatchbayError,
  context: Record<string, unknown>,
): Promise<Metadata<Targets>> {
  try {
    await updater.getTargetInfo(`${role.product}/${role.release}/_`);
  } catch (err) {
    throw refusal(`${what}, role ${role.name}`, err);
  }
  const loaded = trustedSetOf(updater).getRole(role.name);
  if (!loaded) {
    throw new PatchbayError(
      ErrorCodes.TUF_VERIFY,
      `${what}: role ${role.name} did not load (another delegation claims its paths first)`,
      { ...context, role: role.name },
    );
  }
  return loaded;
}

/** The version of root metadata bytes, or undefined when they are not root metadata. */
export function rootVersionOf(bytes: Buffer): number | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { signed?: { _type?: unknown } };
    if (doc.signed?._type !== 'root') return undefined;
    return parseMetadata('root', bytes, 'root').signed.version;
  } catch {
    return undefined;
  }
}

/**
 * root.json in tuf-js's metadata directory is where it starts: the configured anchor the first
 * time, again when the configured file is a newer version (an admin installed a new root), and
 * when the kept copy does not parse (tuf-js writes it in place, so a crash can tear it): the
 * chain is then walked again from the anchor. `configKey` names the setting in errors.
 */
export async function ensureTrustAnchor(
  metadataDir: string,
  rootFile: string,
  configKey: string,
): Promise<void> {
  await mkdir(metadataDir, { recursive: true, mode: 0o700 });
  const anchorBytes = await readFile(rootFile).catch((err: unknown) => {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `${configKey} ${rootFile} cannot be read: ${errorMessage(err)}`,
      { key: configKey, path: rootFile },
      { cause: err },
    );
  });
  const anchor = rootVersionOf(anchorBytes);
  if (anchor === undefined) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `${configKey} ${rootFile} is not TUF root metadata (expected {"signed": {"_type": "root", ...}})`,
      { key: configKey, path: rootFile },
    );
  }
  const kept = path.join(metadataDir, 'root.json');
  const keptVersion = rootVersionOf(await readFile(kept).catch(() => Buffer.alloc(0)));
  if (keptVersion === undefined || keptVersion < anchor) await writeFileAtomic(kept, anchorBytes);
}

export interface TufHttpFetcherOptions {
  dispatcher?: Dispatcher;
  /** give up when headers or the next body bytes take longer (slow-retrieval protection) */
  stallTimeoutMs: number;
  /** asked before every URL and redirect hop (the staging server's origin policy) */
  checkUrl?: UrlCheck;
  signal?: AbortSignal;
  /** retry 5xx, 408, 429 and connection errors; absent: one attempt (a host fails over instead) */
  retry?: RetryPolicy;
  /** every URL fetched, for logs and tests */
  onRequest?: (url: string) => void;
}

/** What BaseFetcher.fetch resolves to: tuf-js 5 reads a web ReadableStream (getReader). */
type FetchedStream = Awaited<ReturnType<BaseFetcher['fetch']>>;

/**
 * tuf-js's Fetcher over patchbay's request function: proxy, trust.ca, stall timeout, origin
 * rules, retries. tuf-js's BaseFetcher cuts a body at the length the trusted metadata allows
 * but leaves it open; this fetcher closes it, so an endless body never holds a connection. A
 * status tuf-js must judge (404 "no newer root", 403) is a DownloadHTTPError with that status.
 */
export class TufHttpFetcher extends BaseFetcher {
  /** bodies opened and not yet finished */
  private readonly open = new Set<Readable>();

  constructor(private readonly opts: TufHttpFetcherOptions) {
    super();
  }

  override async downloadFile<T>(
    url: string,
    maxLength: number,
    handler: (file: string) => Promise<T>,
  ): Promise<T> {
    try {
      return await super.downloadFile(url, maxLength, handler);
    } finally {
      for (const body of this.open) body.destroy();
      this.open.clear();
    }
  }

  async fetch(url: string): Promise<FetchedStream> {
    this.opts.onRequest?.(url);
    const once = async (): Promise<FetchedStream> => {
      const res = await openUrl(url, {
        ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
        ...(this.opts.checkUrl ? { checkUrl: this.opts.checkUrl } : {}),
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
        stallTimeoutMs: this.opts.stallTimeoutMs,
        // metadata bytes are what the signatures cover: never let anything re-encode them
        headers: { 'accept-encoding': 'identity' },
      });
      if (res.status === 200) {
        this.open.add(res.body);
        return Readable.toWeb(res.body) as unknown as FetchedStream;
      }
      await res.discard();
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      if (this.opts.retry && retryable) throw statusError(url, res);
      throw new DownloadHTTPError(`GET ${url} answered HTTP ${res.status}`, res.status);
    };
    return this.opts.retry ? withRetry(url, this.opts.retry, once) : once();
  }
}

/** A fetcher for offline use: every request fails, so only local, verified metadata is read. */
export class OfflineFetcher extends BaseFetcher {
  fetch(url: string): Promise<FetchedStream> {
    return Promise.reject(new DownloadHTTPError(`offline: not fetching ${url}`, 0));
  }
}
