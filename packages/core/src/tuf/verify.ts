// Verify a whole TUF repository as a client would (TUF specification 1.0.x, "Detailed client
// workflow"), but without stopping at the first failure: every reason is collected. Every
// signature, hash and length check is @tufjs/models' own (verifyDelegate, MetaFile.verify,
// TargetFile.verify); this file only orders them as the specification does and adds the
// checks the layout asks for (key ids, distinct keys, consistent snapshots, delegated paths).
import { createReadStream } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { Metadata, MetadataKind } from '@tufjs/models';
import type { Key, MetaFile, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';

/** A role's key ids and threshold (models does not export the class by name). */
type Role = Root['roles'][string];
import { ErrorCodes, PatchbayError } from '../errors.js';
import { HASH_READ_BYTES } from '../hash.js';
import { type UnavailableTarget, unavailableTargets } from './descriptor.js';
import { computeKeyId } from './keys.js';
import {
  METADATA_DIR,
  TARGETS_DIR,
  consistentTargetPath,
  metadataFileName,
  parseMetadataFileName,
  snapshotMetaKey,
} from './layout.js';

/** Where verification reads a repository from: a directory, or anything that serves the same names. */
export interface RepositorySource {
  /** for messages: the directory or base URL */
  readonly location: string;
  /** bytes of `metadata/<name>`, or undefined when it does not exist */
  readMetadata(name: string): Promise<Buffer | undefined>;
  /** a stream of `targets/<path>` (consistent-snapshot path), or undefined when it does not exist */
  openTarget(path: string): Promise<Readable | undefined>;
}

/**
 * A repository directory (`metadata/`, `targets/`) as a RepositorySource. A file whose real
 * path (symlinks resolved) leaves its subdirectory is refused with an error, never read: a
 * hostile bundle cannot make verification read, hash or quote files from elsewhere.
 */
export function directorySource(dir: string): RepositorySource {
  const contained = async (sub: string, parts: string[]): Promise<string | undefined> => {
    const path = join(dir, sub, ...parts);
    let real: string;
    let realBase: string;
    try {
      [real, realBase] = await Promise.all([realpath(path), realpath(join(dir, sub))]);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    const rel = relative(realBase, real);
    if (rel === '' || isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
      throw new PatchbayError(
        ErrorCodes.TUF_VERIFY,
        `${sub}/${parts.join('/')} leads outside ${sub}/ (a symlink); not read`,
        {
          file: path,
        },
      );
    }
    return real;
  };
  return {
    location: dir,
    async readMetadata(name) {
      const path = await contained(METADATA_DIR, [name]);
      if (path === undefined) return undefined;
      try {
        return await readFile(path);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async openTarget(path) {
      const file = await contained(TARGETS_DIR, path.split('/'));
      if (file === undefined) return undefined;
      const stream = createReadStream(file, { highWaterMark: HASH_READ_BYTES });
      try {
        await new Promise<void>((resolve, reject) => {
          stream.once('open', () => resolve());
          stream.once('error', reject);
        });
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
      return stream;
    },
  };
}

export interface VerifyOptions {
  /** bytes of the root metadata the verifier trusts (a deployment's `trust.root`, `upstream.trustedRoot`) */
  trustedRoot?: Buffer;
  /** with no trustedRoot: trust `metadata/1.root.json` as it is (a publisher checking its own repository) */
  trustFirstRoot?: boolean;
  /** the reference time for expiry (default: now) */
  now?: Date;
  /** read and check every target file (default true) */
  checkTargetFiles?: boolean;
  /** which delegated roles to verify (default: all); a staging server's product filter */
  includeRole?: (role: string) => boolean;
  /**
   * leave out a delegated role the snapshot does not list instead of reporting it (default
   * false): a staging server's snapshot lists only the roles its mirror.products selects
   */
  skipUnlistedRoles?: boolean;
  /**
   * roles whose expiry is not checked (default none): an import replaces the bundle's
   * timestamp and snapshot with its own, so their freshness says nothing about an air-gapped
   * transfer; root, targets and delegated roles are always checked
   */
  ignoreExpiry?: readonly ('timestamp' | 'snapshot')[];
}

/** One reason a repository fails: the role (and file) it concerns. */
export interface VerifyProblem {
  role: string;
  /** metadata file name, or target path */
  file?: string;
  reason: string;
}

/** A target file that verified: where it is and what it is. */
export interface VerifiedTargetFile {
  role: string;
  targetPath: string;
  /** path under `targets/` (consistent snapshot) */
  file: string;
  length: number;
  sha256: string;
}

export interface VerifyResult {
  ok: boolean;
  problems: VerifyProblem[];
  /** the newest root reached by the chain from the trusted root */
  root?: Metadata<Root>;
  timestamp?: Metadata<Timestamp>;
  snapshot?: Metadata<Snapshot>;
  targets?: Metadata<Targets>;
  /** delegated targets roles that verified, by name */
  roles: Map<string, Metadata<Targets>>;
  /** metadata files that verified, name under `metadata/` -> exact bytes (root versions of the chain included) */
  files: Map<string, Buffer>;
  targetFiles: VerifiedTargetFile[];
  /** target files the snapshot says the mirror withholds (their absence is not a problem) */
  unavailable: UnavailableTarget[];
}

type Delegator = Metadata<Root> | Metadata<Targets>;
type AnyMetadata = Metadata<Root | Targets | Snapshot | Timestamp>;

/** Target files hashed at the same time. */
const TARGET_CHECKS_AT_ONCE = 4;

/**
 * Verify a repository: the root chain from the trusted root (each version signed by a
 * threshold of the previous root and of itself, versions consecutive), then timestamp,
 * snapshot (length and hash from the timestamp), targets and every delegated role (version
 * and length from the snapshot, signatures by the delegator's keys, expiry), then every
 * target file's length and SHA-256. All problems are returned; `ok` when there are none.
 */
export async function verifyRepository(
  source: RepositorySource | string,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const given = typeof source === 'string' ? directorySource(source) : source;
  const now = opts.now ?? new Date();
  const result: VerifyResult = {
    ok: false,
    problems: [],
    roles: new Map(),
    files: new Map(),
    targetFiles: [],
    unavailable: [],
  };
  const problem = (role: string, reason: string, file?: string) =>
    result.problems.push(file === undefined ? { role, reason } : { role, file, reason });
  // A file the source cannot give (unreadable, a symlink out of the repository) is a problem
  // of its own, then treated as missing.
  const repo: RepositorySource = {
    location: given.location,
    readMetadata: async (name) => {
      try {
        return await given.readMetadata(name);
      } catch (err) {
        problem(roleOfFile(name), `cannot be read: ${(err as Error).message}`, name);
        return undefined;
      }
    },
    openTarget: async (path) => {
      try {
        return await given.openTarget(path);
      } catch (err) {
        problem('targets', `cannot be read: ${(err as Error).message}`, path);
        return undefined;
      }
    },
  };

  const root = await verifyRootChain(repo, opts, result, problem);
  result.root = root;
  if (root) {
    if (root.signed.isExpired(now))
      problem('root', `root version ${root.signed.version} expired at ${root.signed.expires}`);
    if (!root.signed.consistentSnapshot) problem('root', 'consistent_snapshot must be true in this layout');

    const ignoredExpiry = new Set<string>(opts.ignoreExpiry ?? []);
    const timestamp = await loadRole<Timestamp>(
      repo,
      'timestamp',
      'timestamp.json',
      root,
      undefined,
      now,
      result,
      problem,
      ignoredExpiry,
    );
    const snapshotMeta = timestamp?.metadata.signed.snapshotMeta;
    const snapshot = snapshotMeta
      ? await loadRole<Snapshot>(
          repo,
          'snapshot',
          metadataFileName('snapshot', snapshotMeta.version),
          root,
          snapshotMeta,
          now,
          result,
          problem,
          ignoredExpiry,
        )
      : undefined;
    if (snapshot) result.unavailable = unavailableTargets(snapshot.metadata.signed);
    const targetsMeta = snapshot ? metaFor(snapshot.metadata, 'targets', problem) : undefined;
    const targets = targetsMeta
      ? await loadRole<Targets>(
          repo,
          'targets',
          metadataFileName('targets', targetsMeta.version),
          root,
          targetsMeta,
          now,
          result,
          problem,
        )
      : undefined;
    if (timestamp?.ok) result.timestamp = timestamp.metadata;
    if (snapshot?.ok) result.snapshot = snapshot.metadata;
    if (targets?.ok) result.targets = targets.metadata;

    const checked: { role: string; metadata: Metadata<Targets> }[] = [];
    if (targets) checked.push({ role: 'targets', metadata: targets.metadata });
    if (targets && snapshot) {
      for (const delegated of await verifyDelegatedRoles(
        repo,
        targets.metadata,
        snapshot.metadata,
        opts,
        now,
        result,
        problem,
      )) {
        checked.push(delegated);
      }
    }
    if (opts.checkTargetFiles ?? true) await verifyTargetFiles(repo, checked, result, problem);
  }
  result.problems = dedupe(result.problems);
  result.ok = result.problems.length === 0;
  return result;
}

/** Throw PB_ERR_TUF_VERIFY listing every problem, unless the result is ok. */
export function assertVerified(result: VerifyResult, location: string): void {
  if (result.ok) return;
  const lines = result.problems.map(formatProblem);
  throw new PatchbayError(
    ErrorCodes.TUF_VERIFY,
    `${location} fails TUF verification (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`,
    { location, problems: result.problems },
  );
}

/** One problem as a line: `<file or role>: <reason>`. */
export function formatProblem(p: VerifyProblem): string {
  return `${p.file ?? p.role}: ${p.reason}`;
}

type Report = (role: string, reason: string, file?: string) => void;

/** Specification 5.2 and 5.3: load the trusted root, then follow N+1.root.json while it exists. */
async function verifyRootChain(
  repo: RepositorySource,
  opts: VerifyOptions,
  result: VerifyResult,
  problem: Report,
): Promise<Metadata<Root> | undefined> {
  let trustedBytes = opts.trustedRoot;
  if (!trustedBytes && opts.trustFirstRoot) {
    trustedBytes = await repo.readMetadata(metadataFileName('root', 1));
    if (!trustedBytes) {
      problem('root', 'there is no 1.root.json to trust', metadataFileName('root', 1));
      return undefined;
    }
  }
  if (!trustedBytes) {
    problem('root', 'no trusted root given (a root.json to start from, or trust 1.root.json)');
    return undefined;
  }
  const trusted = parse(MetadataKind.Root, trustedBytes, 'root', 'trusted root', problem);
  if (!trusted) return undefined;
  const trustedName = metadataFileName('root', trusted.signed.version);
  if (!checkSignatures(trusted, 'root', trusted, 'trusted root', problem)) return undefined;
  // The trusted root itself is in the repository under its version (what a mirror copies).
  const own = await repo.readMetadata(trustedName);
  if (own && own.equals(trustedBytes)) result.files.set(trustedName, own);

  let current = trusted;
  let newestBytes = own && own.equals(trustedBytes) ? own : undefined;
  for (let version = trusted.signed.version + 1; ; version++) {
    const name = metadataFileName('root', version);
    const bytes = await repo.readMetadata(name);
    if (!bytes) break;
    const next = parse(MetadataKind.Root, bytes, 'root', name, problem);
    if (!next) return current;
    // 5.3.4: signed by a threshold of the trusted root's root keys; 5.3.5: the next version;
    // then signed by a threshold of its own root keys.
    const byOld = checkSignatures(
      current,
      'root',
      next,
      name,
      problem,
      `root version ${current.signed.version}`,
    );
    if (next.signed.version !== version) {
      problem('root', `holds version ${next.signed.version}, expected ${version}`, name);
      return current;
    }
    const bySelf = checkSignatures(next, 'root', next, name, problem, 'itself');
    if (!byOld || !bySelf) return current;
    result.files.set(name, bytes);
    newestBytes = bytes;
    current = next;
  }
  const alias = await repo.readMetadata('root.json');
  if (alias && newestBytes && !alias.equals(newestBytes)) {
    problem(
      'root',
      `differs from ${metadataFileName('root', current.signed.version)}, the newest root`,
      'root.json',
    );
  }
  return current;
}

/**
 * Load one role's file, check it against its meta (length, hashes, version), its delegator's
 * signatures and its expiry. Returns the parsed metadata even when a check failed (so later
 * steps can still report their own problems), with `ok` telling whether it verified.
 */
async function loadRole<T extends Targets | Snapshot | Timestamp>(
  repo: RepositorySource,
  role: string,
  name: string,
  delegator: Delegator,
  meta: MetaFile | undefined,
  now: Date,
  result: VerifyResult,
  problem: Report,
  ignoredExpiry: ReadonlySet<string> = new Set(),
): Promise<{ metadata: Metadata<T>; ok: boolean } | undefined> {
  const bytes = await repo.readMetadata(name);
  if (!bytes) {
    problem(role, 'is missing', name);
    return undefined;
  }
  const before = result.problems.length;
  if (meta) {
    try {
      meta.verify(bytes);
    } catch (err) {
      problem(
        role,
        `does not match the length or hashes its ${role === 'snapshot' ? 'timestamp' : 'snapshot'} lists: ${(err as Error).message}`,
        name,
      );
    }
  }
  const kind = role === 'timestamp' || role === 'snapshot' ? (role as MetadataKind) : MetadataKind.Targets;
  const metadata = parse(kind, bytes, role, name, problem) as Metadata<T> | undefined;
  if (!metadata) return undefined;
  checkSignatures(delegator, role, metadata, name, problem);
  if (meta && metadata.signed.version !== meta.version) {
    problem(
      role,
      `holds version ${metadata.signed.version}, but the ${role === 'snapshot' ? 'timestamp' : 'snapshot'} lists version ${meta.version} (rollback or a stale file)`,
      name,
    );
  }
  if (metadata.signed.isExpired(now) && !ignoredExpiry.has(role))
    problem(role, `version ${metadata.signed.version} expired at ${metadata.signed.expires}`, name);
  const ok = result.problems.length === before;
  if (ok) result.files.set(name, bytes);
  return { metadata, ok };
}

/** Specification 5.6: every delegated role, depth first in delegation order, each once. */
async function verifyDelegatedRoles(
  repo: RepositorySource,
  targets: Metadata<Targets>,
  snapshot: Metadata<Snapshot>,
  opts: VerifyOptions,
  now: Date,
  result: VerifyResult,
  problem: Report,
): Promise<{ role: string; metadata: Metadata<Targets> }[]> {
  const checked: { role: string; metadata: Metadata<Targets> }[] = [];
  const visited = new Set<string>(['targets']);
  const pending: { name: string; parent: Metadata<Targets> }[] = childRoles(targets).reverse();
  while (pending.length > 0) {
    const { name, parent } = pending.pop()!;
    if (visited.has(name) || !(opts.includeRole?.(name) ?? true)) continue;
    visited.add(name);
    if (opts.skipUnlistedRoles && snapshot.signed.meta[snapshotMetaKey(name)] === undefined) continue;
    const meta = metaFor(snapshot, name, problem);
    if (!meta) continue;
    const loaded = await loadRole<Targets>(
      repo,
      name,
      metadataFileName(name, meta.version),
      parent,
      meta,
      now,
      result,
      problem,
    );
    if (!loaded) continue;
    const delegation = parent.signed.delegations?.roles?.[name];
    for (const path of Object.keys(loaded.metadata.signed.targets)) {
      if (delegation && !delegation.isDelegatedPath(path)) {
        problem(
          name,
          `target ${path} is outside the paths delegated to ${name} (${(delegation.paths ?? []).join(', ')})`,
        );
        loaded.ok = false;
      }
    }
    if (loaded.ok) result.roles.set(name, loaded.metadata);
    checked.push({ role: name, metadata: loaded.metadata });
    pending.push(...childRoles(loaded.metadata).reverse());
  }
  return checked;
}

function childRoles(parent: Metadata<Targets>): { name: string; parent: Metadata<Targets> }[] {
  return Object.keys(parent.signed.delegations?.roles ?? {}).map((name) => ({ name, parent }));
}

/** Every target of the checked roles: present under its consistent name, with its length and hashes. */
async function verifyTargetFiles(
  repo: RepositorySource,
  roles: readonly { role: string; metadata: Metadata<Targets> }[],
  result: VerifyResult,
  problem: Report,
): Promise<void> {
  const withheld = new Set(result.unavailable.map((u) => `${u.path}\0${u.sha256}`));
  const jobs = roles.flatMap(({ role, metadata }) =>
    Object.values(metadata.signed.targets).map((target) => ({ role, target })),
  );
  let next = 0;
  const worker = async () => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const { role, target } = job;
      const sha256 = target.hashes.sha256;
      if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
        problem(
          role,
          'has no sha256 hash of 64 lowercase hex (this layout names target files by it)',
          target.path,
        );
        continue;
      }
      if (!isSafeTargetPath(target.path)) {
        problem(
          role,
          'is not a safe relative target path (empty, `.` or `..` segments, `\\` or NUL)',
          target.path,
        );
        continue;
      }
      const file = consistentTargetPath(target.path, sha256);
      const stream = await repo.openTarget(file);
      if (!stream) {
        if (!withheld.has(`${target.path}\0${sha256}`))
          problem(role, `target file targets/${file} is missing`, target.path);
        continue;
      }
      try {
        await target.verify(stream);
        result.targetFiles.push({ role, targetPath: target.path, file, length: target.length, sha256 });
      } catch (err) {
        stream.destroy();
        problem(
          role,
          `target file targets/${file} does not match its length or hashes: ${(err as Error).message}`,
          target.path,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: TARGET_CHECKS_AT_ONCE }, worker));
  result.targetFiles.sort((a, b) => (a.targetPath < b.targetPath ? -1 : a.targetPath > b.targetPath ? 1 : 0));
}

/** The snapshot's meta entry of a targets role, or a problem. */
function metaFor(snapshot: Metadata<Snapshot>, role: string, problem: Report): MetaFile | undefined {
  const meta = snapshot.signed.meta[snapshotMetaKey(role)];
  if (!meta) problem(role, `is not listed in snapshot version ${snapshot.signed.version}`);
  return meta;
}

function parse(
  kind: MetadataKind.Root,
  bytes: Buffer,
  role: string,
  name: string,
  problem: Report,
): Metadata<Root> | undefined;
function parse(
  kind: MetadataKind,
  bytes: Buffer,
  role: string,
  name: string,
  problem: Report,
): AnyMetadata | undefined;
function parse(
  kind: MetadataKind,
  bytes: Buffer,
  role: string,
  name: string,
  problem: Report,
): AnyMetadata | undefined {
  let json: Parameters<typeof Metadata.fromJSON>[1];
  try {
    json = JSON.parse(bytes.toString('utf8')) as typeof json;
  } catch {
    // Not the parser's message: it quotes the bytes, and they may not be metadata at all.
    problem(role, `is not valid JSON`, name);
    return undefined;
  }
  try {
    return Metadata.fromJSON(kind as MetadataKind.Targets, json);
  } catch (err) {
    problem(role, `is not valid ${kind} metadata: ${(err as Error).message}`, name);
    return undefined;
  }
}

/** The role a metadata file name belongs to, for messages (`3.root.json` -> root). */
function roleOfFile(name: string): string {
  if (name === 'timestamp.json') return 'timestamp';
  if (name === 'root.json') return 'root';
  return parseMetadataFileName(name)?.role ?? name;
}

/** A relative `/`-separated path without empty, `.` or `..` segments, backslashes or NUL. */
function isSafeTargetPath(path: string): boolean {
  return (
    !path.includes('\\') &&
    !path.includes('\0') &&
    path.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  );
}

/**
 * The delegator's signature check for `role` (models' verifyDelegate: a threshold of the
 * role's key ids with valid signatures), plus what the layout adds: each of the role's key
 * ids is the SHA-256 of its key's canonical JSON, and the threshold is met by distinct keys
 * (one key listed under two key ids counts once). True when all hold.
 */
function checkSignatures(
  delegator: Delegator,
  role: string,
  metadata: AnyMetadata,
  name: string,
  problem: Report,
  by?: string,
): boolean {
  const who = by ?? (delegator.signed.type === MetadataKind.Root ? 'root' : 'its delegator');
  let ok = true;
  try {
    delegator.verifyDelegate(role, metadata);
  } catch (err) {
    problem(role, `signatures do not meet the threshold set by ${who}: ${(err as Error).message}`, name);
    ok = false;
  }
  const found = roleKeys(delegator, role);
  if (!found) return false;
  const { keys, definition } = found;
  const signers = new Set<string>();
  for (const keyId of definition.keyIDs) {
    const key = keys[keyId];
    if (!key) continue;
    if (computeKeyId(key) !== keyId) {
      problem(
        role,
        `key id ${keyId} in ${who} is not the SHA-256 of its key's canonical JSON (${computeKeyId(key)})`,
        name,
      );
      ok = false;
      continue;
    }
    try {
      key.verifySignature(metadata);
      signers.add(`${key.keyType}:${key.keyVal.public ?? ''}`);
    } catch {
      // not signed by this key: counts for nothing
    }
  }
  if (ok && signers.size < definition.threshold) {
    problem(
      role,
      `signed by ${signers.size} distinct key(s) of the threshold ${definition.threshold} set by ${who} (one key listed under several key ids counts once)`,
      name,
    );
    ok = false;
  }
  return ok;
}

function roleKeys(
  delegator: Delegator,
  role: string,
): { keys: Record<string, Key>; definition: Role } | undefined {
  if (delegator.signed.type === MetadataKind.Root) {
    const signed = delegator.signed as Root;
    const definition = signed.roles[role];
    return definition ? { keys: signed.keys, definition } : undefined;
  }
  const delegations = (delegator.signed as Targets).delegations;
  const definition = delegations?.roles?.[role];
  return delegations && definition ? { keys: delegations.keys, definition } : undefined;
}

function dedupe(problems: VerifyProblem[]): VerifyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.role}\0${p.file ?? ''}\0${p.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
