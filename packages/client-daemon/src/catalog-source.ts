// The catalog a host acts on: built only from TUF metadata that verified against the host's
// trust root (trust.root), from the roles of its own products, fetched from the first upstream
// that answers (upstream.ts: a staging server or a publisher's repository). The staging server
// decides when and where from; what a patch is and runs comes from the publisher's signed
// targets (docs/tuf-repository.md). Each file's `url` is its target path under `targets/`,
// which the downloader asks an upstream to serve (Upstream.fileUrl).
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, PatchbayError, isPatchbayError, readJsonFile, writeFileAtomic } from '@patchbay/core';
import type { Catalog, Logger } from '@patchbay/core';
import { OfflineFetcher, TufHttpFetcher, catalogFromRoles, consistentTargetPath } from '@patchbay/core/tuf';
import type { HeldBackPatch } from '@patchbay/core/tuf';
import type { Dispatcher } from 'undici';
import { withFailover } from './failover.js';
import type { FailoverAttempt } from './failover.js';
import type { CatalogState, LoadedCatalog } from './loaded-catalog.js';
import type { DataPaths } from './paths.js';
import { readVerifiedRepository, serverMetadataDir } from './tuf/verified-repository.js';
import type { HostProduct, VerifiedRepository } from './tuf/verified-repository.js';
import { upstreamsFromConfig } from './upstream.js';
import type { Upstream } from './upstream.js';

export interface CatalogSourceOptions {
  /** the configured servers in failover order (upstreamsFromConfig) */
  upstreams: readonly Upstream[];
  paths: DataPaths;
  /** trust.root (absolute); undefined only with trustOnFirstUse */
  trustRootFile: string | undefined;
  trustOnFirstUse: boolean;
  products: readonly HostProduct[];
  dispatcher?: Dispatcher;
  stallTimeoutMs: number;
  logger: Logger;
  notice?: (text: string) => void;
  /** clock for the offline expiry of kept metadata (tests) */
  now?: () => Date;
}

/** `<dataDir>/tuf/last.json`: which server's kept metadata offline commands re-verify. */
interface LastFetch {
  server: string;
  fetchedAt: string;
}

/** How a catalog is trusted, for doctor and status. */
export interface TufTrust {
  source: 'trust.root' | 'trust on first use';
  fingerprint: string;
  rootVersion: number;
  /**
   * a key of the targets role is also a snapshot or timestamp key: the staging server's online
   * key signs what hosts run (`signing.targets: "mirror"`), so a compromised staging server
   * controls this host
   */
  onlineKeySignsTargets: boolean;
}

/** The root gives the targets role a key that also signs snapshot or timestamp (an online key). */
export function onlineKeySignsTargets(root: VerifiedRepository['root']): boolean {
  const online = new Set([...(root.roles.snapshot?.keyIDs ?? []), ...(root.roles.timestamp?.keyIDs ?? [])]);
  return (root.roles.targets?.keyIDs ?? []).some((id) => online.has(id));
}

const MAX_ROOT_BYTES = 512 * 1024;

export class CatalogSource {
  /** the catalog last loaded by this process (for reports) */
  state: CatalogState | undefined;
  /** what the last verified repository held back, with reasons (check shows them) */
  heldBack: HeldBackPatch[] = [];

  constructor(private readonly opts: CatalogSourceOptions) {}

  private get tufDir(): string {
    return this.opts.paths.tuf;
  }

  /** Fetch and verify from the first server that answers; re-verify what is kept when none does. */
  async load(): Promise<LoadedCatalog> {
    try {
      const { value, upstream, attempts } = await withFailover(
        this.opts.upstreams,
        'fetch TUF metadata',
        (upstream) => this.fromUpstream(upstream, false),
        this.opts.logger,
      );
      const server = upstream.url;
      const fetchedAt = new Date().toISOString();
      await writeFileAtomic(
        this.lastFile(),
        JSON.stringify({ server, fetchedAt } satisfies LastFetch) + '\n',
      );
      return this.loaded(value, { offline: false, server, fetchedAt, attempts });
    } catch (err) {
      if (!isPatchbayError(err, ErrorCodes.NETWORK)) throw err;
      const attempts = (err.context.attempts as FailoverAttempt[] | undefined) ?? [];
      const last = await this.lastFetch();
      if (!last) {
        throw new PatchbayError(
          ErrorCodes.NO_CATALOG,
          `no server answered and no verified metadata is kept: ${err.message}`,
          { attempts },
          { cause: err },
        );
      }
      const repo = await this.fromUpstream(this.keptFrom(last), true);
      return this.loaded(repo, { offline: true, server: last.server, fetchedAt: last.fetchedAt, attempts });
    }
  }

  /** The kept metadata, verified again without the network (status, history), or PB_ERR_NO_CATALOG. */
  async cachedOrThrow(): Promise<LoadedCatalog> {
    const last = await this.lastFetch();
    if (!last) {
      throw new PatchbayError(
        ErrorCodes.NO_CATALOG,
        'no verified metadata kept: run "patchbay-client check" once online',
        {
          path: this.tufDir,
        },
      );
    }
    const repo = await this.fromUpstream(this.keptFrom(last), true);
    return this.loaded(repo, { offline: true, server: last.server, fetchedAt: last.fetchedAt, attempts: [] });
  }

  /** doctor: the kept metadata verified again, or undefined when there is none. */
  async cached(): Promise<
    { catalog: Catalog; server: string; trusted: TufTrust; expired: boolean } | undefined
  > {
    const last = await this.lastFetch();
    if (!last) return undefined;
    const repo = await this.fromUpstream(this.keptFrom(last), true);
    return {
      catalog: this.catalogOf(repo),
      server: last.server,
      trusted: this.trustOf(repo),
      expired: repo.expiredAt !== undefined,
    };
  }

  /** doctor: verify `upstream` read-only (its metadata directory is the one a check would use). */
  async probe(upstream: Upstream): Promise<{ catalog: Catalog; tuf: TufTrust }> {
    const repo = await this.fromUpstream(upstream, false);
    return { catalog: this.catalogOf(repo), tuf: this.trustOf(repo) };
  }

  /** The upstream the kept metadata came from; offline nothing is fetched, so one gone from the list will do. */
  private keptFrom(last: LastFetch): Upstream {
    return this.opts.upstreams.find((u) => u.url === last.server) ?? upstreamsFromConfig([last.server])[0]!;
  }

  private async fromUpstream(upstream: Upstream, offline: boolean): Promise<VerifiedRepository> {
    const server = upstream.url;
    const metadataDir = serverMetadataDir(this.tufDir, server);
    const trustRootFile = await this.trustRoot(upstream, offline);
    const fetcher = offline
      ? new OfflineFetcher()
      : new TufHttpFetcher({
          ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
          stallTimeoutMs: this.opts.stallTimeoutMs,
        });
    const repo = await readVerifiedRepository({
      server,
      metadataUrl: upstream.metadataUrl,
      metadataDir,
      trustRootFile,
      products: this.opts.products,
      fetcher,
      offline,
      ...(this.opts.now ? { now: this.opts.now } : {}),
    });
    for (const missing of repo.missing) {
      this.opts.logger.warn({ server, role: missing.role }, missing.reason);
    }
    return repo;
  }

  /**
   * trust.root, or with trustOnFirstUse the root kept from the first server that answered
   * (fetched once, then only ever followed through signed rotations).
   */
  private async trustRoot(upstream: Upstream, offline: boolean): Promise<string> {
    const server = upstream.url;
    if (this.opts.trustRootFile) return this.opts.trustRootFile;
    const kept = path.join(this.tufDir, 'first-use-root.json');
    const have = await readFile(kept).catch(() => undefined);
    if (have) return kept;
    if (!this.opts.trustOnFirstUse) {
      throw new PatchbayError(
        ErrorCodes.CONFIG,
        'trust.root is not set: name the TUF root metadata file shipped with this deployment ' +
          "(or set trust.trustOnFirstUse to take the first server's, knowingly)",
        { key: 'trust.root' },
      );
    }
    if (offline) {
      throw new PatchbayError(
        ErrorCodes.NO_CATALOG,
        'no root kept yet (trust on first use): run "patchbay-client check" once online',
        {},
      );
    }
    const bytes = await new TufHttpFetcher({
      ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
      stallTimeoutMs: this.opts.stallTimeoutMs,
    }).downloadBytes(`${upstream.metadataUrl}1.root.json`, MAX_ROOT_BYTES);
    await mkdir(this.tufDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(kept, bytes);
    const text =
      `warning: trust on first use: took the root metadata of ${server} as this host's trust root ` +
      `(${kept}); set trust.root to the file shipped with the deployment instead`;
    this.opts.logger.warn({ server, path: kept }, text);
    this.opts.notice?.(text);
    return kept;
  }

  private trustOf(repo: VerifiedRepository): TufTrust {
    const source = this.opts.trustRootFile ? 'trust.root' : 'trust on first use';
    const keyIds = repo.root.roles.root?.keyIDs ?? [];
    return {
      source,
      fingerprint: keyIds.map((id) => id.slice(0, 16)).join(','),
      rootVersion: repo.root.version,
      onlineKeySignsTargets: onlineKeySignsTargets(repo.root),
    };
  }

  private catalogOf(repo: VerifiedRepository): Catalog {
    const { catalog, heldBack } = catalogFromRoles({
      targets: repo.targets,
      roles: repo.roles,
      unavailable: repo.unavailable,
      // the target file path (consistent snapshot): any upstream serves it (Upstream.fileUrl)
      fileUrl: ({ sha256, targetPath }) => consistentTargetPath(targetPath, sha256),
      sequence: repo.snapshot.version,
    });
    // kept metadata read offline after it expired: the catalog expired when the first of it did
    if (repo.expiredAt !== undefined) catalog.expiresAt = repo.expiredAt;
    this.heldBack = heldBack;
    for (const held of heldBack) this.opts.logger.warn({ patchId: held.patchId }, `held back: ${held.error}`);
    return catalog;
  }

  private warnedOnlineTargets = false;

  private loaded(
    repo: VerifiedRepository,
    rest: Omit<LoadedCatalog, 'catalog' | 'expired' | 'keyFingerprint'>,
  ): LoadedCatalog {
    const catalog = this.catalogOf(repo);
    if (onlineKeySignsTargets(repo.root) && !this.warnedOnlineTargets) {
      this.warnedOnlineTargets = true;
      const text =
        'warning: the trust root lets an online staging-server key sign targets (signing.targets "mirror"): ' +
        'a compromised staging server controls what this host runs (docs/security.md)';
      this.opts.logger.warn({ rootVersion: repo.root.version }, text);
      this.opts.notice?.(text);
    }
    // only kept metadata read offline can have expired: online, tuf-js refuses it
    const expired = repo.expiredAt !== undefined;
    this.state = { sequence: catalog.sequence, expired };
    if (catalog.expiresAt) this.state.expiresAt = catalog.expiresAt;
    const keyIds = repo.root.roles.root?.keyIDs ?? [];
    return {
      catalog,
      expired,
      keyFingerprint: `root v${repo.root.version} ${keyIds[0]?.slice(0, 16) ?? ''}`,
      ...rest,
    };
  }

  private lastFile(): string {
    return path.join(this.tufDir, 'last.json');
  }

  private async lastFetch(): Promise<LastFetch | undefined> {
    return (await readJsonFile<LastFetch>(this.lastFile()).catch(() => undefined)) ?? undefined;
  }
}
