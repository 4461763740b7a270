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
}

export interface CatalogSourceOptions {
  servers: readonly string[];
  paths: DataPaths;
  dispatcher?: Dispatcher;
  retries: number;
  stallTimeoutMs: number;
  logger: Logger;
  maxBytes?: number;
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
 * the cached copy when no server answers (callers say so to the user).
 */
export class CatalogSource {
  constructor(private readonly opts: CatalogSourceOptions) {}

  /** The cached catalog, or undefined when there is none (or it no longer parses). */
  async cached(): Promise<{ catalog: Catalog; meta: CatalogMeta } | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.opts.paths.catalog);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const meta = await readJsonFile<CatalogMeta>(this.opts.paths.catalogMeta);
    try {
      const catalog = parseCatalog(bytes, this.opts.paths.catalog);
      return {
        catalog,
        meta: meta ?? { server: 'unknown', fetchedAt: new Date(0).toISOString(), sequence: 0 },
      };
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, 'cached catalog is unreadable; ignoring it');
      return undefined;
    }
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
    return {
      catalog: cached.catalog,
      offline: true,
      server: cached.meta.server,
      fetchedAt: cached.meta.fetchedAt,
      attempts: [],
    };
  }

  /** Fetch from the first server that answers; fall back to the cache when none does. */
  async load(): Promise<LoadedCatalog> {
    const cached = await this.cached();
    const validators = cached?.meta.etag ? { etag: cached.meta.etag } : {};
    try {
      const { value, server, attempts } = await withFailover(
        this.opts.servers,
        'fetch catalog',
        (server) => this.fetchFrom(server, validators, cached),
        this.opts.logger,
      );
      return { ...value, server, attempts };
    } catch (err) {
      if (!isPatchbayError(err, ErrorCodes.NETWORK)) throw err;
      const attempts = (err.context.attempts as FailoverAttempt[] | undefined) ?? [];
      if (!cached) {
        throw new PatchbayError(
          ErrorCodes.NO_CATALOG,
          `no staging server answered and no catalog is cached: ${err.message}`,
          { attempts },
          { cause: err },
        );
      }
      return {
        catalog: cached.catalog,
        offline: true,
        server: cached.meta.server,
        fetchedAt: cached.meta.fetchedAt,
        attempts,
      };
    }
  }

  private async fetchFrom(
    server: string,
    validators: { etag?: string },
    cached: { catalog: Catalog; meta: CatalogMeta } | undefined,
  ): Promise<Omit<LoadedCatalog, 'server' | 'attempts'>> {
    const url = `${server}/v1/catalog`;
    const result = await fetchConditional(url, validators, {
      dispatcher: this.opts.dispatcher,
      retries: this.opts.retries,
      stallTimeoutMs: this.opts.stallTimeoutMs,
      maxBytes: this.opts.maxBytes ?? 64 * 1024 * 1024,
    });
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
      return { catalog: cached.catalog, offline: false, fetchedAt };
    }
    const catalog = parseCatalog(result.body, url);
    assertBlobUrls(catalog, server);
    // Catalog bytes first, then the meta that names them: a crash between the two
    // leaves an old ETag, which only costs one full download.
    await writeFileAtomic(this.opts.paths.catalog, result.body);
    const meta: CatalogMeta = { server, fetchedAt, sequence: catalog.sequence };
    if (result.etag) meta.etag = result.etag;
    await writeFileAtomic(this.opts.paths.catalogMeta, JSON.stringify(meta, null, 2) + '\n');
    this.opts.logger.debug({ server, sequence: catalog.sequence }, 'catalog fetched');
    return { catalog, offline: false, fetchedAt };
  }
}
