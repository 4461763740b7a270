// signing.targets "mirror" (CONTRACT §5, docs/security.md "Mirror-signed targets"): the upstream
// is a patchbay-feed/1, mirrored and verified by the v1 pipeline (sync/), and this server signs
// the TUF targets and the `<product>~<release>` roles itself with its online key, under a root
// the organisation made offline (signing.root) that lists that key for targets, snapshot and
// timestamp. The roles are built from the published catalog (held-back patches are not in it),
// a role's version moves only when its content changes or it is due for re-signing, and the
// served repository (served-repository.ts) publishes them with snapshot and timestamp exactly
// as in publisher mode: hosts with trust.root = that root work unchanged, and warn (doctor,
// check) because a targets key is also a snapshot/timestamp key.
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Metadata, Root, Targets } from '@tufjs/models';
import {
  ErrorCodes,
  PatchbayError,
  errorMessage,
  type Catalog,
  type FeedPatch,
  type Logger,
  type ServerConfig,
} from '@patchbay/core';
import {
  PATCHBAY_TARGETS_FIELD,
  SPEC_VERSION,
  delegationPaths,
  descriptorFromPatch,
  expiresAfter,
  listMetadataVersions,
  metadataBytes,
  metadataFileName,
  parseMetadata,
  patchTargets,
  readMetadata,
  roleNameFor,
  tufKey,
} from '@patchbay/core/tuf';
import { isResignDue } from '../trust/catalog-expiry.js';
import type { OnlineKey } from './online-key.js';
import type { PublishOutcome, ServedRepository } from './served-repository.js';
import type { Clock, TimestampRefresher } from './timestamp-refresh.js';
import type { RoleFile } from './role-file.js';
import { walkRootChainBack } from './root-chain.js';

/** What /v1/status `trust.warning`, the status page and the server's start log say in mirror mode. */
export const MIRROR_SIGNS_TARGETS_WARNING =
  'the staging server signs targets (signing.targets "mirror"): a compromised staging server controls what hosts run';

/** True when this server signs targets itself (signing.targets "mirror"). */
export function serverSignsTargets(config: Pick<ServerConfig, 'signing'>): boolean {
  return config.signing?.targets === 'mirror';
}

function rootConfigError(message: string, path: string, cause?: unknown): PatchbayError {
  return new PatchbayError(
    ErrorCodes.CONFIG,
    `signing.root ${path}: ${message}`,
    { key: 'signing.root', path },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The organisation's root, every version oldest first: signing.root is the newest; versions
 * 1..N-1 must be `<N>.root.json` beside it (the layout of a publisher repository's metadata/,
 * so pointing signing.root at `<repo>/metadata/root.json` works), each signed by a threshold of
 * its predecessor. Hosts whose trust.root is an older version walk these forward. The root must
 * list the online key for targets, snapshot and timestamp with threshold 1. PB_ERR_CONFIG
 * naming signing.root otherwise (the server refuses to start; a sync fails and publishes nothing).
 */
export async function loadSigningRoot(
  config: Pick<ServerConfig, 'signing'>,
  onlineKey: Pick<OnlineKey, 'keyId' | 'keyFile'>,
): Promise<RoleFile<Root>[]> {
  const path = config.signing.root;
  if (typeof path !== 'string' || path === '') {
    throw new PatchbayError(ErrorCodes.CONFIG, 'signing.targets "mirror" needs signing.root', {
      key: 'signing.root',
    });
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw rootConfigError(`cannot be read: ${errorMessage(err)}`, path, err);
  }
  let newest: Metadata<Root>;
  try {
    newest = parseMetadata('root', bytes, path) as Metadata<Root>;
    newest.verifyDelegate('root', newest);
  } catch (err) {
    throw rootConfigError(
      `is not root metadata signed by a threshold of its own root keys: ${errorMessage(err)}`,
      path,
      err,
    );
  }
  const missing: number[] = [];
  const dir = dirname(path);
  let roots: RoleFile<Root>[];
  try {
    roots = await walkRootChainBack(
      { role: 'root', version: newest.signed.version, bytes, signed: newest.signed },
      (version) => readFile(join(dir, metadataFileName('root', version))).catch(() => undefined),
      (version) => missing.push(version),
      'signing.root',
    );
  } catch (err) {
    throw rootConfigError(errorMessage(err), path, err);
  }
  if (missing.length > 0) {
    throw rootConfigError(
      `is root version ${newest.signed.version}; ${metadataFileName('root', missing[0]!)} and every older version ` +
        `must be in ${dir} too (hosts whose trust.root is an older version walk the chain forward)`,
      path,
    );
  }
  const problems: string[] = [];
  for (const role of ['targets', 'snapshot', 'timestamp'] as const) {
    const definition = newest.signed.roles[role];
    if (!definition?.keyIDs.includes(onlineKey.keyId)) problems.push(`does not list it for ${role}`);
    else if (definition.threshold > 1) problems.push(`needs ${definition.threshold} signatures for ${role}`);
  }
  if (problems.length > 0) {
    throw rootConfigError(
      `root version ${newest.signed.version} ${problems.join(' and ')}, for this server's online key ${onlineKey.keyId} ` +
        `(${onlineKey.keyFile}.pub), which signs targets, snapshot and timestamp alone in mirror mode: make the root ` +
        `off the DMZ with patchbay-publish init --targets-key ${onlineKey.keyFile}.pub --online-key ${onlineKey.keyFile}.pub`,
      path,
    );
  }
  return roots;
}

/** Targets metadata (unsigned) from the `signed` JSON of serverSignedRoles, at this version and expiry. */
function targetsMetadata(
  role: string,
  content: Record<string, unknown>,
  version: number,
  expires: string,
): Metadata<Targets> {
  const json = JSON.stringify({ signed: { ...content, version, expires }, signatures: [] });
  return parseMetadata(role, Buffer.from(json, 'utf8'), `${role} (built)`) as Metadata<Targets>;
}

/** What a targets role says, without version, expiry and signatures: equal means nothing to sign. */
function contentOf(metadata: Metadata<Targets>): Record<string, unknown> {
  const {
    version: _version,
    expires: _expires,
    ...rest
  } = metadata.signed.toJSON() as Record<string, unknown>;
  return rest;
}

/** The `signed` JSON of every role this server signs: top-level targets, then `<product>~<release>`. */
export function serverSignedRoles(
  catalog: Catalog,
  onlineKey: Pick<OnlineKey, 'keyId' | 'publicKeyPem'>,
  log: Logger,
) {
  const declared = catalog.products.flatMap((product) =>
    product.releases.map((release) => ({
      product: product.id,
      release,
      role: roleNameFor(product.id, release),
    })),
  );
  declared.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  const byRole = new Map<string, FeedPatch[]>(declared.map(({ role }) => [role, []]));
  for (const patch of catalog.patches) {
    const list = byRole.get(roleNameFor(patch.product, patch.release));
    if (list) list.push(patch);
    else
      log.warn(
        { patchId: patch.id, product: patch.product, release: patch.release },
        'patch of an undeclared product release left out of the TUF roles',
      );
  }
  const key = tufKey(createPublicKey(onlineKey.publicKeyPem));
  const top: Record<string, unknown> = {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    targets: {},
    delegations: {
      keys: { [key.keyID]: key.toJSON() },
      roles: declared.map(({ product, release, role }) => ({
        name: role,
        keyids: [key.keyID],
        threshold: 1,
        terminating: true,
        paths: delegationPaths(product, release),
      })),
    },
    [PATCHBAY_TARGETS_FIELD]: { vendor: catalog.vendor, products: catalog.products },
  };
  const roles = new Map<string, Record<string, unknown>>();
  for (const { role } of declared) {
    const targets: Record<string, unknown> = {};
    const patches = [...byRole.get(role)!].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const patch of patches) {
      for (const target of patchTargets(descriptorFromPatch(patch))) targets[target.path] = target.toJSON();
    }
    roles.set(role, { _type: 'targets', spec_version: SPEC_VERSION, targets });
  }
  return { top, roles };
}

interface SignContext {
  repository: ServedRepository;
  onlineKey: OnlineKey;
  config: Pick<ServerConfig, 'signing'>;
  now: Date;
}

/**
 * The role as served when its content is unchanged and it is not due for re-signing (the same
 * bytes, the same version); else the next version (one above the newest on disk), signed now.
 */
async function signedRole(
  ctx: SignContext,
  role: string,
  content: Record<string, unknown>,
): Promise<RoleFile<Targets>> {
  const served = ctx.repository.current()?.roles.get(role);
  if (served) {
    const current = await readMetadata(ctx.repository.dir, role, served.version);
    if (
      current &&
      isDeepStrictEqual(
        contentOf(current),
        contentOf(targetsMetadata(role, content, current.signed.version, current.signed.expires)),
      ) &&
      !isResignDue(current.signed.expires, ctx.now, ctx.config)
    ) {
      const bytes = await readFile(join(ctx.repository.metadataDir, metadataFileName(role, served.version)));
      return { role, version: served.version, bytes, signed: current.signed };
    }
  }
  const onDisk = (await listMetadataVersions(ctx.repository.dir)).get(role)?.at(-1) ?? 0;
  const version = Math.max(onDisk, served?.version ?? 0) + 1;
  const days = ctx.config.signing?.expiryDays ?? 7;
  const metadata = targetsMetadata(role, content, version, expiresAfter(ctx.now, days));
  metadata.sign(ctx.onlineKey.sign);
  return { role, version, bytes: metadataBytes(metadata as never), signed: metadata.signed };
}

/** What signing needs of the server's TUF side (served-tuf.ts ServedTuf has them all). */
export interface TargetsSigningParts {
  repository: ServedRepository;
  onlineKey: OnlineKey;
  clock: Pick<Clock, 'now'>;
  refresher?: Pick<TimestampRefresher, 'check'>;
}

/**
 * Publish the TUF repository from the published catalog: the organisation's root versions, the
 * targets and product roles this server signs, then snapshot and timestamp (served-repository.ts
 * writes a new snapshot only when a role moved). Nothing before the first catalog.
 */
export async function publishServerSigned(
  config: Pick<ServerConfig, 'signing'>,
  tuf: TargetsSigningParts,
  catalog: Catalog | null,
  log: Logger,
): Promise<PublishOutcome | null> {
  if (catalog === null) return null;
  const roots = await loadSigningRoot(config, tuf.onlineKey);
  const newestRoot = roots.at(-1)!;
  const rollback = await tuf.repository.rollbackProblems(newestRoot.version, []);
  if (rollback.length > 0) {
    throw new PatchbayError(
      ErrorCodes.TUF_VERIFY,
      `signing.root: ${rollback.join('; ')}; nothing was published`,
      {
        key: 'signing.root',
        problems: rollback,
      },
    );
  }
  const now = tuf.clock.now();
  const ctx: SignContext = { repository: tuf.repository, onlineKey: tuf.onlineKey, config, now };
  const { top, roles } = serverSignedRoles(catalog, tuf.onlineKey, log);
  const signedRoles = new Map<string, RoleFile<Targets>>();
  for (const [name, content] of roles) signedRoles.set(name, await signedRole(ctx, name, content));
  const targets = await signedRole(ctx, 'targets', top);
  const outcome = await tuf.repository.publish(
    { roots, targets, roles: signedRoles, unavailable: [], upstreamChain: [] },
    now,
  );
  await tuf.refresher?.check();
  if (outcome.published) {
    log.info(
      {
        targetsVersion: targets.version,
        roles: Object.fromEntries([...signedRoles].map(([name, file]) => [name, file.version])),
        snapshotVersion: outcome.snapshotVersion,
      },
      'TUF targets signed by this server (signing.targets "mirror") and published',
    );
  }
  return outcome;
}
