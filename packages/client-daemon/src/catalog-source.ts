import { readFile } from 'node:fs/promises';
import {
  ErrorCodes,
  PatchbayError,
  errorMessage,
  fetchConditional,
  isPatchbayError,
  parseCatalog,
  readJsonFile,
  writeFileAtomic,
} from '@patchbay/core';
import type { Catalog, Logger } from '@patchbay/core';
import type { Dispatcher } from 'undici';
import { signatureRefusal } from './catalog-trust.js';
import type { CatalogTrust, KeysDocument, TrustedKey } from './catalog-trust.js';
import { withFailover } from './failover.js';
import type { FailoverAttempt } from './failover.js';
import type { DataPaths } from './paths.js';

/** catalog.meta.json: what we need for the next conditional GET and for "cached from <time>". */
export interface CatalogMeta {
  etag?: string;
  server: string;
  fetchedAt: string;
  sequence: number;
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
const MAX_KEYS_BYTES = 256 * 1024;

interface CachedCatalog {
  catalog: Catalog;
  meta: CatalogMeta;
  bytes: Buffer;
  trusted: TrustedKey;
}

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
    if (signature === undefined) {
      throw signatureRefusal(
        'no-signature',
        `${what} has no signature (${this.opts.paths.catalogSig}); refusing it`,
        {
          path: this.opts.paths.catalog,
        },
      );
    }
    let trusted: TrustedKey;
    try {
      trusted = await this.opts.trust.verify(meta.server, bytes, signature, undefined, true);
    } catch (err) {
      if (isPatchbayError(err, ErrorCodes.SIGNATURE)) {
        throw new PatchbayError(ErrorCodes.SIGNATURE, `${what}: ${err.message}`, {
          ...err.context,
          path: this.opts.paths.catalog,
        });
      }
      throw err;
    }
    const catalog = parseCatalog(bytes, this.opts.paths.catalog);
    await this.opts.trust.assertNotRolledBack(trusted.fingerprint, catalog, bytes, what);
    return { catalog, meta, bytes, trusted };
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
          this.fetchFrom(
            server,
            cached?.meta.etag && cached.meta.server === server ? { etag: cached.meta.etag } : {},
            cached,
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
          `no staging server answered and no catalog is cached: ${err.message}`,
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
  async probe(
    server: string,
  ): Promise<{ catalog: Catalog; expired: boolean; trusted: TrustedKey | 'unpinned' }> {
    const url = `${server}/v1/catalog`;
    const result = await fetchConditional(url, {}, this.fetchOptions(this.opts.maxBytes ?? 64 * 1024 * 1024));
    if (result.notModified) {
      throw new PatchbayError(ErrorCodes.HTTP_STATUS, `${url} answered 304 to an unconditional request`, {
        url,
        status: 304,
      });
    }
    const signature = await this.fetchSignature(server);
    const unpinned = !this.opts.trust.mirrorKeyFingerprint && !(await this.opts.trust.pins())[server];
    const trusted = await this.opts.trust.verify(
      server,
      result.body,
      signature,
      () => this.fetchKeys(server),
      true,
    );
    const catalog = parseCatalog(result.body, url);
    assertBlobUrls(catalog, server);
    await this.opts.trust.assertNotRolledBack(
      trusted.fingerprint,
      catalog,
      result.body,
      `catalog from ${server}`,
    );
    return { catalog, expired: isExpired(catalog, this.now()), trusted: unpinned ? 'unpinned' : trusted };
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

  /** GET /v1/catalog.sig; a 404 or an empty body is "no signature" (undefined). */
  private async fetchSignature(server: string): Promise<string | undefined> {
    try {
      const res = await fetchConditional(
        `${server}/v1/catalog.sig`,
        {},
        this.fetchOptions(MAX_SIGNATURE_BYTES),
      );
      if (res.notModified) return undefined;
      const text = res.body.toString('utf8').trim();
      return text === '' ? undefined : text;
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

  private async fetchFrom(
    server: string,
    validators: { etag?: string },
    cached: CachedCatalog | undefined,
  ): Promise<Omit<LoadedCatalog, 'server' | 'attempts' | 'expired'>> {
    const url = `${server}/v1/catalog`;
    const result = await fetchConditional(
      url,
      validators,
      this.fetchOptions(this.opts.maxBytes ?? 64 * 1024 * 1024),
    );
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
    const signature = await this.fetchSignature(server);
    const trusted = await this.opts.trust.verify(server, result.body, signature, () =>
      this.fetchKeys(server),
    );
    const catalog = parseCatalog(result.body, url);
    assertBlobUrls(catalog, server);
    await this.opts.trust.assertNotRolledBack(
      trusted.fingerprint,
      catalog,
      result.body,
      `catalog from ${server}`,
    );
    // Catalog bytes, then its signature, then the meta that names them: a crash in between
    // leaves a cache that fails verification, which only costs one full download.
    await writeFileAtomic(this.opts.paths.catalog, result.body);
    await writeFileAtomic(this.opts.paths.catalogSig, signature + '\n');
    const meta: CatalogMeta = { server, fetchedAt, sequence: catalog.sequence };
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
