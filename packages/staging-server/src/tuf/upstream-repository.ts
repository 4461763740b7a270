// The staging server as a TUF client of its upstream (docs/tuf-repository.md "Snapshot and
// timestamp on a staging server"): tuf-js's Updater walks the root chain from
// upstream.trustedRoot, then timestamp, snapshot and top-level targets (rollback, freeze,
// mix-and-match and endless-data checks included); this module asks it for the delegated
// roles the mirror's product filter selects, and hands back their verified bytes so they can
// be published byte for byte. It downloads no target file: that is the blob stage's job.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ErrorCodes,
  PatchbayError,
  errorMessage,
  narrowFilesToPrivate,
  writeFileAtomic,
  type Logger,
  type ServerConfig,
  redactCredentials,
} from '@patchbay/core';
import {
  Updater,
  ensureTrustAnchor,
  loadDelegatedRole,
  refreshTrustedSet,
  type Fetcher,
  METADATA_DIR,
  metadataFileName,
  parseMetadata,
  parseRoleName,
  snapshotMetaKey,
} from '@patchbay/core/tuf';
import type { Metadata, Root, Targets } from '@tufjs/models';
import type { RoleFile } from './role-file.js';
import { walkRootChainBack } from './root-chain.js';
import { snapshotChain } from './served-repository.js';

export interface VerifiedUpstream {
  /** every root version the chain could be walked back to, oldest first; the last is the trusted one */
  roots: RoleFile<Root>[];
  targets: RoleFile<Targets>;
  /** the mirrored delegated roles, by name */
  roles: Map<string, RoleFile<Targets>>;
  /** delegated roles left out (product filter, or a name that is not `<product>~<release>`), with why */
  skipped: { role: string; reason: string }[];
  /** the staging servers the upstream's snapshot passed through (its mirror chain; [] for a publisher) */
  chain: string[];
}

export interface UpstreamReadOptions {
  /** upstream.url: the repository's base URL, ending in `/` */
  baseUrl: string;
  /** where tuf-js keeps the verified upstream metadata (`<dataDir>/upstream/tuf`) */
  metadataDir: string;
  /** upstream.trustedRoot */
  trustedRootFile: string;
  products: ServerConfig['mirror']['products'];
  fetcher: Fetcher;
  /** a root version this server published before (saves fetching it again), or undefined */
  knownRoot: (version: number) => Promise<Buffer | undefined>;
  logger: Logger;
}

/** The upstream's metadata URL prefix: `<upstream.url>metadata/`. */
export function upstreamMetadataUrl(baseUrl: string): string {
  return new URL(`${METADATA_DIR}/`, baseUrl).href;
}

/** `<dataDir>/upstream/tuf`: the upstream metadata tuf-js verified (its own rollback memory). */
export function upstreamMetadataDir(dataDir: string): string {
  return join(dataDir, 'upstream', 'tuf');
}

/** Beside tuf-js's files: the upstream.url they were verified from (not a `.json`: tuf-js never reads it). */
const UPSTREAM_URL_FILE = 'upstream-url.txt';

/**
 * tuf-js's memory (timestamp, snapshot, targets, roles) belongs to one upstream: another
 * repository's versions count from their own start (a DMZ's timestamp is not the vendor site's).
 * When upstream.url changed (a server moved from the vendor site to a parent tier, or back),
 * everything but the verified root is dropped, so the new upstream is verified from that root
 * instead of being mixed with the old one's snapshot or refused by its counters. Rollback stays
 * refused against what this server serves (ServedRepository.rollbackProblems). A directory
 * without the record (made before it existed) is taken as the current upstream's.
 */
export async function forgetOtherUpstream(metadataDir: string, baseUrl: string, log: Logger): Promise<void> {
  const recordFile = join(metadataDir, UPSTREAM_URL_FILE);
  const recorded = await readFile(recordFile, 'utf8').catch(() => undefined);
  if (recorded?.trim() === baseUrl) return;
  if (recorded !== undefined) {
    const dropped = (await readdir(metadataDir)).filter(
      (name) => name.endsWith('.json') && name !== 'root.json',
    );
    for (const name of dropped) await rm(join(metadataDir, name), { force: true });
    log.warn(
      { previous: redactCredentials(recorded.trim()), upstream: redactCredentials(baseUrl), dropped },
      "upstream.url changed: the previous upstream's timestamp, snapshot and roles were forgotten; the new one is verified from the trusted root",
    );
  }
  await writeFileAtomic(recordFile, `${baseUrl}\n`);
}

/** True when the product filter (mirror.products; absent = everything) selects this release. */
export function releaseSelected(
  products: ServerConfig['mirror']['products'],
  product: string,
  release: string,
): boolean {
  if (!products) return true;
  return products.some(
    (entry) => entry.id === product && (!entry.releases || entry.releases.includes(release)),
  );
}

/**
 * Verify the upstream (root chain, timestamp, snapshot, targets, the selected delegated roles)
 * and return the verified bytes. PB_ERR_TUF_VERIFY with tuf-js's reason when anything fails;
 * PB_ERR_NETWORK / PB_ERR_HTTP_STATUS when the upstream cannot be reached.
 */
export async function readUpstreamRepository(opts: UpstreamReadOptions): Promise<VerifiedUpstream> {
  try {
    return await readUpstream(opts);
  } finally {
    // tuf-js writes what it fetches (refresh, then each delegated role) under the umask
    await narrowFilesToPrivate(opts.metadataDir);
  }
}

async function readUpstream(opts: UpstreamReadOptions): Promise<VerifiedUpstream> {
  await ensureTrustAnchor(opts.metadataDir, opts.trustedRootFile, 'upstream.trustedRoot');
  await forgetOtherUpstream(opts.metadataDir, opts.baseUrl, opts.logger);
  const metadataBaseUrl = upstreamMetadataUrl(opts.baseUrl);
  const updater = new Updater({
    metadataDir: opts.metadataDir,
    metadataBaseUrl,
    fetcher: opts.fetcher,
    config: { userAgent: 'patchbay-server' },
  });
  const what = `the upstream TUF repository ${opts.baseUrl}`;
  const { set, snapshot, targets } = await refreshTrustedSet(updater, what, tufRefusal, {
    url: opts.baseUrl,
  });

  const roles = new Map<string, RoleFile<Targets>>();
  const skipped: VerifiedUpstream['skipped'] = [];
  for (const role of Object.keys(targets.signed.delegations?.roles ?? {})) {
    const parsed = parseRoleName(role);
    if (!parsed) {
      skipped.push({ role, reason: 'not a <product>~<release> role of this layout' });
      continue;
    }
    if (!releaseSelected(opts.products, parsed.product, parsed.release)) {
      skipped.push({ role, reason: 'not selected by mirror.products' });
      continue;
    }
    // A parent staging server (a tier) lists in its snapshot only the roles its own
    // mirror.products selects: a role its snapshot does not list is not served there, as for
    // a host. Leaving it out only withholds, which the snapshot's signer can do anyway.
    if (snapshot.signed.meta[snapshotMetaKey(role)] === undefined) {
      skipped.push({
        role,
        reason: `not listed in the upstream's snapshot (version ${snapshot.signed.version})`,
      });
      continue;
    }
    const loaded = await loadDelegatedRole(updater, { name: role, ...parsed }, what, tufRefusal, {
      url: opts.baseUrl,
    });
    roles.set(role, await keptFile(opts.metadataDir, role, loaded));
  }

  return {
    roots: await rootChain(opts, await keptFile(opts.metadataDir, 'root', set.root)),
    targets: await keptFile(opts.metadataDir, 'targets', targets),
    roles,
    skipped,
    chain: snapshotChain(snapshot.signed),
  };
}

/**
 * The bytes tuf-js verified and kept for `role` (it writes exactly the bytes it downloaded),
 * checked against what it holds in memory: the file must be that metadata, signatures included.
 */
async function keptFile<T extends Root | Targets>(
  metadataDir: string,
  role: string,
  trusted: Metadata<T>,
): Promise<RoleFile<T>> {
  const path = join(metadataDir, `${encodeURIComponent(role)}.json`);
  const bytes = await readFile(path);
  let same = false;
  try {
    // both sides as @tufjs/models writes them (core parses with its own copy of the same classes)
    same =
      JSON.stringify(parseMetadata(role === 'root' ? 'root' : 'targets', bytes, path).toJSON()) ===
      JSON.stringify(trusted.toJSON());
  } catch {
    same = false;
  }
  if (!same) {
    throw new PatchbayError(
      ErrorCodes.TUF_VERIFY,
      `${path} is not the ${role} metadata tuf-js verified (changed on disk during the sync?)`,
      { path, role },
    );
  }
  return { role, version: trusted.signed.version, bytes, signed: trusted.signed };
}

/** The upstream's root versions below the trusted one: this server's copies first, then the upstream's. */
async function rootChain(opts: UpstreamReadOptions, newest: RoleFile<Root>): Promise<RoleFile<Root>[]> {
  return walkRootChainBack(
    newest,
    async (version) =>
      (await opts.knownRoot(version)) ??
      (await fetchRoot(opts, `${upstreamMetadataUrl(opts.baseUrl)}${metadataFileName('root', version)}`)),
    (version) =>
      opts.logger.warn(
        { version, url: opts.baseUrl },
        'upstream root version missing: hosts trusting an older root cannot walk to the current one',
      ),
    'upstream',
  );
}

const ROOT_MAX_BYTES = 512_000;

async function fetchRoot(opts: UpstreamReadOptions, url: string): Promise<Buffer | undefined> {
  try {
    return await opts.fetcher.downloadBytes(url, ROOT_MAX_BYTES);
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404 || status === 403) return undefined;
    throw err;
  }
}

/** tuf-js's refusal (bad signature, rollback, expiry, length) as PB_ERR_TUF_VERIFY naming what was refused. */
function tufRefusal(what: string, err: unknown): PatchbayError {
  if (err instanceof PatchbayError) return err;
  const name = err instanceof Error ? err.constructor.name : 'Error';
  const status = (err as { statusCode?: number }).statusCode;
  const network =
    name === 'DownloadHTTPError' ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|UND_ERR|socket|answered HTTP [0-9]{3}/i.test(
      errorMessage(err),
    );
  return new PatchbayError(
    network ? ErrorCodes.NETWORK : ErrorCodes.TUF_VERIFY,
    `${what}: ${errorMessage(err)}${network ? '' : ` (${name}): refusing it`}`,
    { reason: name, ...(status !== undefined ? { status } : {}) },
    { cause: err },
  );
}
