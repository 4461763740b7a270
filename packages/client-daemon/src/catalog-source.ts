import { readFile, rm } from 'node:fs/promises';
import {
  ErrorCodes,
  PatchbayError,
  catalogSchemaId,
  errorMessage,
  fetchConditional,
  isPatchbayError,
  parseCatalog,
  parseFeed,
  readJsonFile,
  sha256Hex,
  writeFileAtomic,
} from '@patchbay/core';
import type { Catalog, ConditionalResult, Logger } from '@patchbay/core';
import type { Dispatcher } from 'undici';
import { signatureRefusal } from './catalog-trust.js';
import type { CatalogTrust, FeedTrust, KeysDocument, TrustedKey } from './catalog-trust.js';
import { feedLocation, serverDirectory, serverKind } from './direct-mode.js';
import type { ServerKind } from './direct-mode.js';
import { withFailover } from './failover.js';
import { CATALOG_FORMAT, FEED_FORMAT, documentFormat, feedToCatalog, wrongKindError } from './feed-source.js';
import type { FailoverAttempt } from './failover.js';
import type { DataPaths } from './paths.js';

/** catalog.meta.json: what we need for the next conditional GET and for "cached from <time>". */
export interface CatalogMeta {
  etag?: string;
  server: string;
  fetchedAt: string;
  sequence: number;
  /** 'feed': the cached bytes are a vendor feed.json (direct mode); absent: a staging server's catalog */
  kind?: ServerKind;
  /**
   * `<sha256 of catalog.json>:<catalogSchemaId()>`: these bytes passed the catalog schema in
   * full, so reading them again (every check) skips that pass (validatedMark).
   */
  validated?: string;
}

export interface LoadedCatalog {
  catalog: Catalog;
  /** true when no server answered and this is the cached copy */
  offline: boolean;
  /** the server that answered (or that the cached copy came from) */
  server: string;
  /** when these bytes were fetched */
  fetchedAt: string;
  /** servers that failed before one answered, or all of them when offline */
  attempts: FailoverAttempt[];
  /** the catalog's expiresAt has passed: show it, but install and download nothing from it */
  expired: boolean;
  /** fingerprint of the key its signature verified against */
  keyFingerprint: string;
}

export interface CatalogSourceOptions {
  servers: readonly string[];
  paths: DataPaths;
  trust: CatalogTrust;
  dispatcher?: Dispatcher;
  retries: number;
  stallTimeoutMs: number;
  logger: Logger;
  maxBytes?: number;
  /** tells the person at the terminal (expiry warnings) */
  notice?: (text: string) => void;
  /** clock for expiry (tests) */
  now?: () => Date;
}

/** What reports say about the catalog in use (extension fields catalogSequence, catalogExpired). */
export interface CatalogState {
  sequence: number;
  expired: boolean;
  expiresAt?: string;
}

/** A signature document is one line of base64; anything bigger is not one. */
const MAX_SIGNATURE_BYTES = 4096;
/** catalog + signature fetched again at most this often when publications keep landing between them */
const MAX_PAIR_ATTEMPTS = 3;
const MAX_KEYS_BYTES = 256 * 1024;

interface CachedCatalog {
  catalog: Catalog;
  meta: CatalogMeta;
  bytes: Buffer;
  trusted: TrustedKey | FeedTrust;
}

type Fetched = Omit<LoadedCatalog, 'server' | 'attempts' | 'expired'>;

const BLOB_PATH = /^\/v1\/blobs\/sha256\/([0-9a-f]{64})$/;

/**
 * Every file a catalog names must be a blob of the mirror, addressed by its own digest:
 * a catalog that points a file anywhere else is refused whole.
 */
export function assertBlobUrls(catalog: Catalog, server: string): void {
  for (const patch of catalog.patches) {
    for (const file of patch.files) {
      let pathname: string;
      try {
        pathname = new URL(file.url, `${server}/`).pathname;
      } catch {
        pathname = '';
      }
      const match = BLOB_PATH.exec(pathname);
      if (!match || match[1] !== file.sha256) {
        throw new PatchbayError(
          ErrorCodes.FEED_INVALID,
          `catalog from ${server}: patch ${patch.id} file ${file.name} url "${file.url}" is not /v1/blobs/sha256/${file.sha256}`,
          { server, patchId: patch.id, file: file.name, url: file.url },
        );
      }
    }
  }
}

/**
 * The catalog with ETag caching, failover across staging servers, and a fallback to
 * the cached copy when no server answers (callers say so to the user). Every catalog,
 * fetched or cached, is used only after its signature verified (catalog-trust.ts) and
 * it is not older than one already accepted; nothing of a refused catalog is cached.
 * A server may also be a vendor feed (direct mode): told apart by its URL's shape alone
 * (serverKind()), verified against trust.feedKey and turned into a catalog (feed-source.ts).
 */
export class CatalogSource {
  /** the catalog last loaded by this process (for reports) */
  state: CatalogState | undefined;

  constructor(private readonly opts: CatalogSourceOptions) {}

  get trust(): CatalogTrust {
    return this.opts.trust;
  }

  /**
   * The cached catalog, verified again (its signature beside it, against the key pinned
   * for the server it came from, and the rollback state), or undefined when there is none.
   * A cached copy that fails verification throws (PB_ERR_SIGNATURE / PB_ERR_CATALOG_STALE).
   */
  async cached(): Promise<CachedCatalog | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.opts.paths.catalog);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const meta = (await readJsonFile<CatalogMeta>(this.opts.paths.catalogMeta)) ?? {
      server: 'unknown',
      fetchedAt: new Date(0).toISOString(),
      sequence: 0,
    };
    const signature = await readFile(this.opts.paths.catalogSig, 'utf8').catch(() => undefined);
    const what = `cached catalog ${this.opts.paths.catalog}`;
    if (meta.kind === 'feed') return this.cachedFeed(bytes, meta, signature, what);
    if (signature === undefined) {
      throw signatureRefusal(
        'no-signature',
        `${what} has no signature (${this.opts.paths.catalogSig}); refusing it`,
        {
          path: this.opts.paths.catalog,
        },
      );
    }
    const trusted: TrustedKey = await this.naming(what, () =>
      this.opts.trust.verify(meta.server, bytes, signature, undefined, true),
    );
    const mark = validatedMark(bytes);
    const catalog = parseCatalog(bytes, this.opts.paths.catalog, { schemaChecked: meta.validated === mark });
    await this.opts.trust.assertNotRolledBack(trusted.fingerprint, catalog, bytes, what);
    return { catalog, meta: { ...meta, validated: mark }, bytes, trusted };
  }

  /** A signature refusal of the cached copy names what was refused and the cache file. */
  private async naming<T>(what: string, verify: () => Promise<T>): Promise<T> {
    try {
      return await verify();
    } catch (err) {
      if (isPatchbayError(err, ErrorCodes.SIGNATURE)) {
        throw new PatchbayError(ErrorCodes.SIGNATURE, `${what}: ${err.message}`, {
          ...err.context,
          path: this.opts.paths.catalog,
        });
      }
      throw err;
    }
  }

  /** A cached vendor feed (direct mode), verified as a fresh one would be. */
  private async cachedFeed(
    bytes: Buffer,
    meta: CatalogMeta,
    signature: string | undefined,
    what: string,
  ): Promise<CachedCatalog> {
    const trusted: FeedTrust = await this.naming(what, async () =>
      this.opts.trust.verifyFeed(meta.server, bytes, signature),
    );
    const catalog = feedToCatalog(parseFeed(bytes, this.opts.paths.catalog), feedLocation(meta.server));
    await this.opts.trust.assertNotRolledBack(trusted.id, catalog, bytes, what);
    if (!serverDirectory.hasFeedIndex(meta.server)) {
      serverDirectory.indexFeed(
        meta.server,
        catalog.patches.flatMap((p) => p.files),
      );
    }
    return { catalog, meta, bytes, trusted };
  }

  /** Which configured servers are vendor feeds (direct mode): from their URLs alone. */
  serverKinds(): Promise<{ server: string; kind: ServerKind }[]> {
    this.initKinds();
    return Promise.resolve(
      this.opts.servers.map((raw) => {
        const server = raw.replace(/\/+$/, '');
        return { server, kind: serverKind(server) };
      }),
    );
  }

  /** Every server is a vendor feed: reports stay local. */
  async directMode(): Promise<boolean> {
    return (await this.serverKinds()).every((s) => s.kind === 'feed');
  }

  /** Let downloads load a feed they need (its file URLs) before the catalog came from it. */
  private initKinds(): void {
    serverDirectory.preparer = (server) => this.prepare(server);
  }

  /**
   * A download needs to know what `server` is (and, for a feed, where it keeps each
   * file) before the catalog came from it: probe it read-only.
   */
  private async prepare(server: string): Promise<void> {
    await this.probe(server);
  }

  /**
   * Ask `server` as the kind its URL says it is (serverKind): a staging server unless the
   * URL is a feed's documented shape. Never from what it answers: a 404 from a staging
   * server is an error like any other, never a hint to read it as a vendor feed (issue 13).
   */
  private ask<T>(server: string, as: (kind: ServerKind) => Promise<T>): Promise<T> {
    return as(serverKind(server));
  }

  /** The cached catalog or PB_ERR_NO_CATALOG (commands that never touch the network). */
  async cachedOrThrow(): Promise<LoadedCatalog> {
    const cached = await this.cached();
    if (!cached) {
      throw new PatchbayError(
        ErrorCodes.NO_CATALOG,
        'no cached catalog: run "patchbay-client check" once online',
        {
          path: this.opts.paths.catalog,
        },
      );
    }
    return this.loaded(cached.catalog, {
      offline: true,
      server: cached.meta.server,
      fetchedAt: cached.meta.fetchedAt,
      attempts: [],
      keyFingerprint: cached.trusted.fingerprint,
    });
  }

  /** Fetch from the first server that answers; fall back to the cache when none does. */
  async load(): Promise<LoadedCatalog> {
    this.initKinds();
    let cached: CachedCatalog | undefined;
    let cacheRefusal: unknown;
    try {
      cached = await this.cached();
    } catch (err) {
      // A cache that does not verify is never used; a fresh copy replaces it.
      cacheRefusal = err;
      this.opts.logger.warn({ err: errorMessage(err) }, 'cached catalog refused; fetching a fresh one');
    }
    try {
      const { value, server, attempts } = await withFailover(
        this.opts.servers,
        'fetch catalog',
        // the cached signature is by the key of the server it came from: only that one may answer 304
        (server) =>
          this.ask(server, (kind) =>
            kind === 'feed' ? this.fetchFeed(server, cached) : this.fetchFrom(server, cached),
          ),
        this.opts.logger,
      );
      return this.loaded(value.catalog, { ...value, server, attempts });
    } catch (err) {
      if (!isPatchbayError(err, ErrorCodes.NETWORK)) throw err;
      if (cacheRefusal) throw cacheRefusal;
      const attempts = (err.context.attempts as FailoverAttempt[] | undefined) ?? [];
      if (!cached) {
        throw new PatchbayError(
          ErrorCodes.NO_CATALOG,
          `no staging server or feed answered and no catalog is cached: ${err.message}`,
          { attempts },
          { cause: err },
        );
      }
      return this.loaded(cached.catalog, {
        offline: true,
        server: cached.meta.server,
        fetchedAt: cached.meta.fetchedAt,
        attempts,
        keyFingerprint: cached.trusted.fingerprint,
      });
    }
  }

  /**
   * Fetch and verify a server's catalog without caching, pinning or recording anything
   * (doctor). Throws what load() would refuse with.
   */
  async probe(server: string): Promise<ProbeResult> {
    this.initKinds();
    return this.ask(server, (kind) => (kind === 'feed' ? this.probeFeed(server) : this.probeStaging(server)));
  }

  private async probeStaging(server: string): Promise<ProbeResult> {
    const url = `${server}/v1/catalog`;
    const { result, signature } = await this.fetchSignedCatalog(server, {});
    if (result.notModified) {
      throw new PatchbayError(ErrorCodes.HTTP_STATUS, `${url} answered 304 to an unconditional request`, {
        url,
        status: 304,
      });
    }
    const unpinned = !this.opts.trust.mirrorKeyFingerprint && !(await this.opts.trust.pins())[server];
    const { trusted, catalog } = await this.verifiedCatalog(server, result.body, signature, true);
    return {
      kind: 'staging',
      catalog,
      expired: isExpired(catalog, this.now()),
      trusted: unpinned ? 'unpinned' : trusted,
    };
  }

  /** A vendor feed, read-only: verified, not rolled back, its files indexed for downloads. */
  private async probeFeed(server: string): Promise<ProbeResult> {
    const doc = await this.fetchFeedDocument(server, {});
    if (doc.notModified) {
      throw new PatchbayError(ErrorCodes.HTTP_STATUS, `${server} answered 304 to an unconditional request`, {
        server,
        status: 304,
      });
    }
    const { catalog, trusted } = doc;
    serverDirectory.indexFeed(
      server,
      catalog.patches.flatMap((p) => p.files),
    );
    return { kind: 'feed', catalog, expired: false, trusted };
  }

  private now(): Date {
    return this.opts.now ? this.opts.now() : new Date();
  }

  private loaded(catalog: Catalog, rest: Omit<LoadedCatalog, 'catalog' | 'expired'>): LoadedCatalog {
    const expired = isExpired(catalog, this.now());
    this.state = { sequence: catalog.sequence, expired };
    if (catalog.expiresAt) this.state.expiresAt = catalog.expiresAt;
    return { catalog, expired, ...rest };
  }

  private fetchOptions(maxBytes: number): Parameters<typeof fetchConditional>[2] {
    return {
      dispatcher: this.opts.dispatcher,
      retries: this.opts.retries,
      stallTimeoutMs: this.opts.stallTimeoutMs,
      maxBytes,
      // the signature is over the identity bytes: never let a proxy or server re-encode them
      headers: { 'accept-encoding': 'identity' },
    };
  }

  /** A fresh catalog's checks: signature (pinning a first-contact key unless readOnly), schema, blob URLs, rollback. */
  private async verifiedCatalog(
    server: string,
    body: Buffer,
    signature: string | undefined,
    readOnly = false,
  ): Promise<{ trusted: TrustedKey; catalog: Catalog }> {
    // readOnly (doctor's probe): verify without pinning a first-contact key
    const trusted = await this.opts.trust.verify(
      server,
      body,
      signature,
      () => this.fetchKeys(server),
      readOnly,
    );
    const catalog = parseCatalog(body, `${server}/v1/catalog`);
    assertBlobUrls(catalog, server);
    await this.opts.trust.assertNotRolledBack(trusted.fingerprint, catalog, body, `catalog from ${server}`);
    return { trusted, catalog };
  }

  /**
   * GET /v1/catalog (conditionally) and its signature as one pair. A sync may publish between
   * the two requests; the .sig answer then carries another ETag than the catalog, and the pair
   * is fetched again (a few times at most), instead of refusing a good catalog as badly signed.
   */
  private async fetchSignedCatalog(
    server: string,
    validators: { etag?: string },
  ): Promise<{ result: ConditionalResult; signature: string | undefined }> {
    const url = `${server}/v1/catalog`;
    for (let attempt = 1; ; attempt += 1) {
      const result = await fetchConditional(
        url,
        validators,
        this.fetchOptions(this.opts.maxBytes ?? 64 * 1024 * 1024),
      );
      if (result.notModified) return { result, signature: undefined };
      assertFormat(url, result.body, CATALOG_FORMAT);
      const signature = await this.fetchSignature(server);
      const paired =
        signature?.etag === undefined || result.etag === undefined || signature.etag === result.etag;
      if (paired || attempt >= MAX_PAIR_ATTEMPTS) return { result, signature: signature?.text };
      this.opts.logger.info(
        { server, catalogEtag: result.etag, signatureEtag: signature.etag, attempt },
        'a new catalog was published between the catalog and its signature; fetching both again',
      );
    }
  }

  /** GET /v1/catalog.sig; a 404 or an empty body is "no signature" (undefined). */
  private async fetchSignature(server: string): Promise<{ text: string; etag?: string } | undefined> {
    try {
      const res = await fetchConditional(
        `${server}/v1/catalog.sig`,
        {},
        this.fetchOptions(MAX_SIGNATURE_BYTES),
      );
      if (res.notModified) return undefined;
      const text = res.body.toString('utf8').trim();
      if (text === '') return undefined;
      return res.etag === undefined ? { text } : { text, etag: res.etag };
    } catch (err) {
      if (isPatchbayError(err, ErrorCodes.HTTP_STATUS) && Number(err.context.status) === 404)
        return undefined;
      throw err;
    }
  }

  private async fetchKeys(server: string): Promise<KeysDocument> {
    const url = `${server}/v1/keys`;
    const res = await fetchConditional(url, {}, this.fetchOptions(MAX_KEYS_BYTES));
    if (res.notModified)
      throw new PatchbayError(ErrorCodes.HTTP_STATUS, `${url} answered 304`, { url, status: 304 });
    let doc: unknown;
    try {
      doc = JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new PatchbayError(ErrorCodes.FEED_NOT_JSON, `${url} is not JSON`, { url }, { cause: err });
    }
    if (typeof doc !== 'object' || doc === null || typeof (doc as KeysDocument).mirror !== 'string') {
      throw new PatchbayError(ErrorCodes.FEED_INVALID, `${url} names no "mirror" key`, { url });
    }
    return doc as KeysDocument;
  }

  private async fetchFrom(server: string, cached: CachedCatalog | undefined): Promise<Fetched> {
    // the cached signature is by the key of the server it came from: only that one may answer 304
    const validators =
      cached?.meta.etag && cached.meta.server === server && cached.meta.kind !== 'feed'
        ? { etag: cached.meta.etag }
        : {};
    const url = `${server}/v1/catalog`;
    const { result, signature } = await this.fetchSignedCatalog(server, validators);
    const fetchedAt = new Date().toISOString();
    if (result.notModified) {
      if (!cached) {
        throw new PatchbayError(ErrorCodes.HTTP_STATUS, `${url} answered 304 without a cached catalog`, {
          url,
          status: 304,
        });
      }
      const meta: CatalogMeta = { ...cached.meta, server, fetchedAt };
      await writeFileAtomic(this.opts.paths.catalogMeta, JSON.stringify(meta, null, 2) + '\n');
      return {
        catalog: cached.catalog,
        offline: false,
        fetchedAt,
        keyFingerprint: cached.trusted.fingerprint,
      };
    }
    const { trusted, catalog } = await this.verifiedCatalog(server, result.body, signature);
    // Catalog bytes, then its signature, then the meta that names them: a crash in between
    // leaves a cache that fails verification, which only costs one full download.
    await writeFileAtomic(this.opts.paths.catalog, result.body);
    await writeFileAtomic(this.opts.paths.catalogSig, signature + '\n');
    const meta: CatalogMeta = {
      server,
      fetchedAt,
      sequence: catalog.sequence,
      validated: validatedMark(result.body),
    };
    if (result.etag) meta.etag = result.etag;
    await writeFileAtomic(this.opts.paths.catalogMeta, JSON.stringify(meta, null, 2) + '\n');
    const firstWithoutExpiry = await this.opts.trust.recordAccepted(
      trusted.fingerprint,
      catalog,
      result.body,
      server,
    );
    if (firstWithoutExpiry) {
      const text = `catalog ${catalog.sequence} from ${server} carries no expiresAt (an older staging server): a frozen mirror cannot be detected`;
      this.opts.logger.warn({ server, sequence: catalog.sequence }, text);
      this.opts.notice?.(text);
    }
    this.opts.logger.debug(
      { server, sequence: catalog.sequence, key: trusted.fingerprint },
      'catalog fetched and verified',
    );
    return { catalog, offline: false, fetchedAt, keyFingerprint: trusted.fingerprint };
  }

  /**
   * GET feed.json (and feed.json.sig when trust.feedKey asks for it), verify, parse and
   * check it against the rollback state. Nothing is written. `notModified` when the
   * server answered 304 to the validators.
   */
  private async fetchFeedDocument(
    server: string,
    validators: { etag?: string },
  ): Promise<
    | { notModified: true }
    | {
        notModified?: false;
        catalog: Catalog;
        trusted: FeedTrust;
        bytes: Buffer;
        signature?: string;
        etag?: string;
      }
  > {
    const location = feedLocation(server);
    const result = await fetchConditional(
      location.feedUrl,
      validators,
      this.fetchOptions(this.opts.maxBytes ?? 64 * 1024 * 1024),
    );
    if (result.notModified) return { notModified: true };
    assertFormat(location.feedUrl, result.body, FEED_FORMAT);
    const signature = this.opts.trust.feedKeyFingerprint ? await this.fetchText(location.sigUrl) : undefined;
    const trusted = this.opts.trust.verifyFeed(server, result.body, signature);
    const catalog = feedToCatalog(parseFeed(result.body, location.feedUrl), location);
    await this.opts.trust.assertNotRolledBack(trusted.id, catalog, result.body, `feed from ${server}`);
    return {
      catalog,
      trusted,
      bytes: result.body,
      ...(signature ? { signature } : {}),
      ...(result.etag ? { etag: result.etag } : {}),
    };
  }

  /** A vendor feed (direct mode): fetched, verified, cached as the catalog is. */
  private async fetchFeed(server: string, cached: CachedCatalog | undefined): Promise<Fetched> {
    const validators =
      cached?.meta.etag && cached.meta.server === server && cached.meta.kind === 'feed'
        ? { etag: cached.meta.etag }
        : {};
    const doc = await this.fetchFeedDocument(server, validators);
    const fetchedAt = new Date().toISOString();
    if (doc.notModified) {
      if (!cached) {
        throw new PatchbayError(ErrorCodes.HTTP_STATUS, `${server} answered 304 without a cached feed`, {
          server,
          status: 304,
        });
      }
      const meta: CatalogMeta = { ...cached.meta, fetchedAt };
      await writeFileAtomic(this.opts.paths.catalogMeta, JSON.stringify(meta, null, 2) + '\n');
      return {
        catalog: cached.catalog,
        offline: false,
        fetchedAt,
        keyFingerprint: cached.trusted.fingerprint,
      };
    }
    const { catalog, trusted, bytes } = doc;
    // the same order as a catalog: bytes, signature, then the meta that names them
    await writeFileAtomic(this.opts.paths.catalog, bytes);
    if (doc.signature) await writeFileAtomic(this.opts.paths.catalogSig, doc.signature + '\n');
    else await rm(this.opts.paths.catalogSig, { force: true });
    const meta: CatalogMeta = { server, fetchedAt, sequence: catalog.sequence, kind: 'feed' };
    if (doc.etag) meta.etag = doc.etag;
    await writeFileAtomic(this.opts.paths.catalogMeta, JSON.stringify(meta, null, 2) + '\n');
    await this.opts.trust.recordAccepted(trusted.id, catalog, bytes, server);
    serverDirectory.indexFeed(
      server,
      catalog.patches.flatMap((p) => p.files),
    );
    this.opts.logger.debug(
      { server, sequence: catalog.sequence, key: trusted.fingerprint },
      'vendor feed fetched and verified (direct mode)',
    );
    return { catalog, offline: false, fetchedAt, keyFingerprint: trusted.fingerprint };
  }

  /** A small text document (a signature); 404 or empty is undefined. */
  private async fetchText(url: string): Promise<string | undefined> {
    try {
      const res = await fetchConditional(url, {}, this.fetchOptions(MAX_SIGNATURE_BYTES));
      if (res.notModified) return undefined;
      const text = res.body.toString('utf8').trim();
      return text === '' ? undefined : text;
    } catch (err) {
      if (isPatchbayError(err, ErrorCodes.HTTP_STATUS) && Number(err.context.status) === 404)
        return undefined;
      throw err;
    }
  }
}

/**
 * What CatalogMeta.validated records for catalog bytes that passed parseCatalog in full. The
 * digest is ours, not the server's ETag; the schema id changes with the schema files, so an
 * upgraded client validates its cached copy in full once more.
 */
function validatedMark(bytes: Buffer): string {
  return `${sha256Hex(bytes)}:${catalogSchemaId()}`;
}

/** What doctor learns from one server. */
export interface ProbeResult {
  kind: ServerKind;
  catalog: Catalog;
  expired: boolean;
  trusted: TrustedKey | FeedTrust | 'unpinned';
}

/**
 * The document must declare `expected`; otherwise the server may be the other kind. A
 * catalog that is not JSON at all is left to the signature check and the parser (their
 * errors say more); a feed must say it is one.
 */
function assertFormat(url: string, bytes: Buffer, expected: string): void {
  const found = documentFormat(bytes);
  if (found === expected || (expected === CATALOG_FORMAT && found === undefined)) return;
  throw wrongKindError(url, expected, found);
}

/** Fields check/status add to their JSON document for an expired catalog. */
export function expiryFields(loaded: LoadedCatalog): Record<string, unknown> {
  return loaded.expired ? { catalogExpired: true, expiresAt: loaded.catalog.expiresAt } : {};
}

/** expiresAt has passed (a catalog without one never expires: older servers). */
export function isExpired(catalog: Catalog, now: Date): boolean {
  if (catalog.expiresAt === undefined) return false;
  const at = Date.parse(catalog.expiresAt);
  return Number.isNaN(at) || at <= now.getTime();
}

/**
 * Freeze protection: an expired catalog may be shown, never installed or downloaded from.
 * PB_ERR_CATALOG_STALE naming when it expired.
 */
export function assertNotExpired(loaded: LoadedCatalog, action: string): void {
  if (!loaded.expired) return;
  throw new PatchbayError(
    ErrorCodes.CATALOG_STALE,
    `catalog ${loaded.catalog.sequence} from ${loaded.server} expired at ${loaded.catalog.expiresAt}: refusing to ${action} ` +
      '(the staging server has not published a fresh catalog; is it frozen or cut off from its feed?)',
    { reason: 'expired', sequence: loaded.catalog.sequence, expiresAt: loaded.catalog.expiresAt },
  );
}
