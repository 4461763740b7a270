// The host's side of the TUF client workflow (specification §5): tuf-js's Updater walks the
// root chain from the configured trust root, then timestamp, snapshot and top-level targets,
// with its rollback, freeze, mix-and-match and endless-data checks; this module asks it for
// the delegated roles of the host's own products only, and hands back what verified.
import { cp, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  ErrorCodes,
  PatchbayError,
  errorMessage,
  fsyncDir,
  narrowFilesToPrivate,
  sha256Hex,
} from '@patchbay/core';
import {
  Updater,
  ensureTrustAnchor,
  loadDelegatedRole,
  refreshTrustedSet,
  roleNameFor,
  trustedSetOf,
  unavailableTargets,
} from '@patchbay/core/tuf';
import type { Fetcher, UnavailableTarget } from '@patchbay/core/tuf';
import type { Root, Snapshot, Targets, Timestamp } from '@tufjs/models';

export interface HostProduct {
  id: string;
  release: string;
}

/** A product release of this host that the server's repository does not carry. */
export interface MissingRole {
  product: string;
  release: string;
  role: string;
  reason: string;
}

export interface VerifiedRepository {
  root: Root;
  timestamp: Timestamp;
  snapshot: Snapshot;
  targets: Targets;
  /** the host's delegated roles that verified, by role name */
  roles: Map<string, Targets>;
  missing: MissingRole[];
  /** target files the serving mirror says it cannot serve (its snapshot's x-patchbay-unavailable) */
  unavailable: UnavailableTarget[];
  /**
   * offline only: the earliest expiry of the kept metadata (root, timestamp, snapshot, targets,
   * the host's roles) when it has passed. Shown, never installed from (freeze protection).
   */
  expiredAt?: string;
}

export interface RepositoryReadOptions {
  /** the upstream's URL (no trailing slash): what messages name */
  server: string;
  /** base URL of its TUF metadata, ending in '/' (Upstream.metadataUrl) */
  metadataUrl: string;
  /** this server's own metadata directory (its snapshot and timestamp are its own timeline) */
  metadataDir: string;
  /** trust.root: the root metadata file shipped with the deployment */
  trustRootFile: string;
  products: readonly HostProduct[];
  fetcher: Fetcher;
  /** read only the metadata already verified and kept on disk (offline commands) */
  offline?: boolean;
  /** clock for the offline expiry check (tests); online, tuf-js reads the real clock itself */
  now?: () => Date;
}

/** Per-upstream metadata directory under `<dataDir>/tuf/`: a short digest of its URL. */
export function serverMetadataDir(tufDir: string, server: string): string {
  const id = sha256Hex(server).slice(0, 16);
  return path.join(tufDir, 'servers', id);
}

/**
 * Refresh (or, offline, re-verify what is kept) and load the host's product roles. Throws
 * PB_ERR_TUF_VERIFY with the reason tuf-js gave; a product the repository does not carry is listed
 * in `missing`, never an error on its own.
 *
 * tuf-js writes every file it verifies into its directory as it goes, so a refresh cut off half
 * way (the server gone after the timestamp) would keep a timestamp naming a snapshot that is not
 * kept, and the kept metadata would no longer verify offline. A refresh therefore runs in a copy
 * of the server's directory, and its files replace the kept ones only when all of it verified.
 */
export async function readVerifiedRepository(opts: RepositoryReadOptions): Promise<VerifiedRepository> {
  await ensureTrustAnchor(opts.metadataDir, opts.trustRootFile, 'trust.root');
  if (opts.offline) return verifyIn(opts.metadataDir, opts);
  const work = await mkdtemp(`${opts.metadataDir}.refresh-`);
  try {
    await cp(opts.metadataDir, work, { recursive: true });
    const repo = await verifyIn(work, opts);
    // tuf-js writes what it fetches under the umask: the kept copies are 0600
    await narrowFilesToPrivate(work);
    await keepRefreshed(work, opts.metadataDir);
    return repo;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Move a verified refresh's files over the kept ones, each by an atomic rename: root first,
 * timestamp last (the file an offline read starts from).
 */
async function keepRefreshed(work: string, metadataDir: string): Promise<void> {
  const rank = (name: string): number =>
    name === 'root.json' ? 0 : name === 'timestamp.json' ? 3 : name === 'snapshot.json' ? 2 : 1;
  const names = (await readdir(work)).filter((name) => name.endsWith('.json'));
  names.sort((a, b) => rank(a) - rank(b));
  for (const name of names) await rename(path.join(work, name), path.join(metadataDir, name));
  await fsyncDir(metadataDir);
}

async function verifyIn(metadataDir: string, opts: RepositoryReadOptions): Promise<VerifiedRepository> {
  const updater = new Updater({
    metadataDir,
    metadataBaseUrl: opts.metadataUrl,
    fetcher: opts.fetcher,
    forceCache: opts.offline === true,
    config: { userAgent: 'patchbay-client' },
  });
  const set = trustedSetOf(updater);
  // Offline, signatures, versions and hashes are verified as online, but expiry is judged below
  // instead of by tuf-js: kept metadata that has expired is still shown (status, check), flagged
  // expiredAt so nothing is downloaded or installed from it. Online, tuf-js refuses it (freeze).
  if (opts.offline) set.referenceTime = new Date(0);
  const what = opts.offline ? `the metadata kept from ${opts.server}` : `the repository of ${opts.server}`;
  const { timestamp, snapshot, targets } = await refreshTrustedSet(updater, what, tufRefusal, {
    server: opts.server,
  });
  const roles = new Map<string, Targets>();
  const missing: MissingRole[] = [];
  for (const product of opts.products) {
    const role = roleNameFor(product.id, product.release);
    const base = { product: product.id, release: product.release, role };
    const delegated = targets.signed.delegations?.roles?.[role];
    if (!delegated) {
      missing.push({ ...base, reason: `the publisher's targets delegate no role ${role}` });
      continue;
    }
    if (!snapshot.signed.meta[`${role}.json`]) {
      missing.push({ ...base, reason: `${opts.server} does not mirror ${product.id} ${product.release}` });
      continue;
    }
    const loaded = await loadDelegatedRole(
      updater,
      { name: role, product: product.id, release: product.release },
      what,
      tufRefusal,
      { server: opts.server },
    );
    roles.set(role, loaded.signed);
  }
  const repo: VerifiedRepository = {
    root: set.root.signed,
    timestamp: timestamp.signed,
    snapshot: snapshot.signed,
    targets: targets.signed,
    roles,
    missing,
    unavailable: unavailableTargets(snapshot.signed),
  };
  if (opts.offline) {
    const now = opts.now ? opts.now() : new Date();
    const expired = [set.root.signed, timestamp.signed, snapshot.signed, targets.signed, ...roles.values()]
      .filter((signed) => signed.isExpired(now))
      .map((signed) => signed.expires)
      .sort((a, b) => Date.parse(a) - Date.parse(b));
    if (expired[0] !== undefined) repo.expiredAt = expired[0];
  }
  return repo;
}

/** tuf-js's refusal (bad signature, rollback, expiry, length) as PB_ERR_TUF_VERIFY naming what was refused. */
function tufRefusal(what: string, err: unknown): PatchbayError {
  const name = err instanceof Error ? err.constructor.name : 'Error';
  const network = name === 'DownloadHTTPError' || isNetworkError(err);
  return new PatchbayError(
    network ? ErrorCodes.NETWORK : ErrorCodes.TUF_VERIFY,
    `${what}: ${errorMessage(err)}${network ? '' : ` (${name}): refusing it`}`,
    { reason: name },
    { cause: err },
  );
}

function isNetworkError(err: unknown): boolean {
  const text = errorMessage(err);
  // tuf-js wraps snapshot and targets download failures in a RuntimeError: read its text
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|UND_ERR|socket|timed out|answered HTTP [0-9]{3}|offline: not fetching/i.test(
    text,
  );
}
