// A TUF repository directory (docs/tuf-repository.md "Metadata and target URLs"): `metadata/`
// with every version of every role, `targets/` with consistent-snapshot target files. Reading
// the newest versions, writing new ones (atomically; versions only grow), building snapshot
// and timestamp meta from the files on disk, and adding target files by their digest.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalize } from '@tufjs/canonical-json';
import { MetaFile, Metadata, MetadataKind, Snapshot, Timestamp } from '@tufjs/models';
import type { Root, Signature, Targets } from '@tufjs/models';
import { atomicTempPath, fsyncDir, readFileIfExists, writeFileAtomic } from '../atomic-file.js';
import { ErrorCodes, PatchbayError } from '../errors.js';
import { HASH_READ_BYTES, sha256File } from '../hash.js';
import {
  METADATA_DIR,
  TARGETS_DIR,
  consistentTargetPath,
  metadataFileName,
  parseMetadataFileName,
  snapshotMetaKey,
} from './layout.js';

type AnySigned = Root | Targets | Snapshot | Timestamp;

/** The newest version of every role in a repository directory. */
export interface LoadedRepository {
  dir: string;
  root: Metadata<Root>;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  targets: Metadata<Targets>;
  /** the delegated targets roles the top-level targets delegates to, by name */
  roles: Map<string, Metadata<Targets>>;
}

/** The @tufjs/models kind of a role name: top-level names are their own kind, the rest are targets. */
export function roleKind(role: string): MetadataKind {
  switch (role) {
    case 'root':
      return MetadataKind.Root;
    case 'snapshot':
      return MetadataKind.Snapshot;
    case 'timestamp':
      return MetadataKind.Timestamp;
    default:
      return MetadataKind.Targets;
  }
}

/** Path of a metadata file of a repository directory. */
export function metadataPath(dir: string, role: string, version: number): string {
  return join(dir, METADATA_DIR, metadataFileName(role, version));
}

/** The bytes patchbay writes for a metadata object: its JSON, two-space indented, newline-terminated. */
export function metadataBytes(metadata: Metadata<AnySigned>): Buffer {
  return Buffer.from(`${JSON.stringify(metadata.toJSON(), null, 2)}\n`, 'utf8');
}

/** Parse metadata bytes as `role`'s kind (PB_ERR_TUF_REPOSITORY naming `source` when they are not). */
export function parseMetadata(role: string, bytes: Buffer, source: string): Metadata<AnySigned> {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as Parameters<typeof Metadata.fromJSON>[1];
    return Metadata.fromJSON(roleKind(role) as MetadataKind.Targets, json);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.TUF_REPOSITORY,
      `${source} is not ${role} metadata: ${(err as Error).message}`,
      { file: source, role },
      { cause: err },
    );
  }
}

/** Every version of every role found under `metadata/` (timestamp.json not included), versions ascending. */
export async function listMetadataVersions(dir: string): Promise<Map<string, number[]>> {
  let names: string[];
  try {
    names = await readdir(join(dir, METADATA_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const versions = new Map<string, number[]>();
  for (const name of names) {
    const parsed = parseMetadataFileName(name);
    if (!parsed) continue;
    const list = versions.get(parsed.role) ?? [];
    list.push(parsed.version);
    versions.set(parsed.role, list);
  }
  for (const list of versions.values()) list.sort((a, b) => a - b);
  return versions;
}

/** The newest version of `role` on disk (for timestamp: the version inside timestamp.json), or undefined. */
export async function newestVersion(dir: string, role: string): Promise<number | undefined> {
  if (role === 'timestamp') return (await readMetadata(dir, 'timestamp'))?.signed.version;
  return (await listMetadataVersions(dir)).get(role)?.at(-1);
}

/** Read one version of a role (the newest when `version` is omitted); undefined when there is none. */
export async function readMetadata(
  dir: string,
  role: 'root',
  version?: number,
): Promise<Metadata<Root> | undefined>;
export async function readMetadata(dir: string, role: 'timestamp'): Promise<Metadata<Timestamp> | undefined>;
export async function readMetadata(
  dir: string,
  role: 'snapshot',
  version?: number,
): Promise<Metadata<Snapshot> | undefined>;
export async function readMetadata(
  dir: string,
  role: string,
  version?: number,
): Promise<Metadata<Targets> | undefined>;
export async function readMetadata(
  dir: string,
  role: string,
  version?: number,
): Promise<Metadata<AnySigned> | undefined> {
  const wanted = role === 'timestamp' ? 1 : (version ?? (await listMetadataVersions(dir)).get(role)?.at(-1));
  if (wanted === undefined) return undefined;
  const path = metadataPath(dir, role, wanted);
  const bytes = await readFileIfExists(path);
  return bytes && parseMetadata(role, bytes, path);
}

/**
 * The newest version of each top-level role and of every role the newest top-level targets
 * delegates to. PB_ERR_TUF_REPOSITORY when one of them is missing.
 */
export async function loadRepository(dir: string): Promise<LoadedRepository> {
  const versions = await listMetadataVersions(dir);
  const need = async <T extends AnySigned>(role: string): Promise<Metadata<T>> => {
    const version = role === 'timestamp' ? 1 : versions.get(role)?.at(-1);
    const metadata =
      version === undefined
        ? undefined
        : ((await readMetadata(dir, role, version)) as Metadata<T> | undefined);
    if (!metadata) {
      throw new PatchbayError(
        ErrorCodes.TUF_REPOSITORY,
        `${join(dir, METADATA_DIR)} has no ${role} metadata (is ${dir} a repository made by patchbay-publish init?)`,
        { dir, role },
      );
    }
    return metadata;
  };
  const root = await need<Root>('root');
  const timestamp = await need<Timestamp>('timestamp');
  const snapshot = await need<Snapshot>('snapshot');
  const targets = await need<Targets>('targets');
  const roles = new Map<string, Metadata<Targets>>();
  for (const name of Object.keys(targets.signed.delegations?.roles ?? {})) {
    roles.set(name, await need<Targets>(name));
  }
  return { dir, root, timestamp, snapshot, targets, roles };
}

/**
 * Write `metadata` as the next version of `role`: temp file, fsync, rename, fsync the
 * directory; a root version is also written to `root.json` when it is the newest. Versions
 * only grow: a version below the newest on disk is refused, and the newest itself may be
 * rewritten only with `sameVersion: true` and an unchanged `signed` (adding signatures).
 */
export async function writeMetadata(
  dir: string,
  role: string,
  metadata: Metadata<AnySigned>,
  opts: { sameVersion?: boolean; mode?: number | 'umask' } = {},
): Promise<string> {
  const version = metadata.signed.version;
  const expected = roleKind(role);
  if (metadata.signed.type !== expected) {
    throw new PatchbayError(
      ErrorCodes.TUF_REPOSITORY,
      `cannot write ${metadata.signed.type} metadata as role ${role}`,
      {
        role,
      },
    );
  }
  const newest = await newestVersion(dir, role);
  if (newest !== undefined && version <= newest) {
    const current = version === newest ? await readMetadata(dir, role, version) : undefined;
    const unchanged =
      current !== undefined &&
      canonicalize(current.signed.toJSON()) === canonicalize(metadata.signed.toJSON());
    if (!(opts.sameVersion && unchanged)) {
      throw new PatchbayError(
        ErrorCodes.TUF_REPOSITORY,
        version === newest
          ? `${role} version ${version} already exists${opts.sameVersion ? ' with other content' : ''}; a change needs version ${newest + 1}`
          : `${role} version ${version} is older than version ${newest} on disk; versions only grow`,
        { role, version, newest },
      );
    }
  }
  const path = metadataPath(dir, role, version);
  const bytes = metadataBytes(metadata);
  // A publisher's repository is published as it lies (umask); a server's copy passes 0600.
  const mode = opts.mode ?? 'umask';
  await writeFileAtomic(path, bytes, { mode });
  if (role === 'root') await writeFileAtomic(join(dir, METADATA_DIR, 'root.json'), bytes, { mode });
  return path;
}

/**
 * The next version of a metadata object: the same `signed` content with version + 1 and the
 * given expiry, no signatures. `change` may edit the JSON of `signed` first.
 */
export function nextVersion<T extends AnySigned>(
  metadata: Metadata<T>,
  expires: string,
  change: (signed: Record<string, unknown>) => void = () => undefined,
): Metadata<T> {
  const signed = metadata.signed.toJSON() as Record<string, unknown>;
  change(signed);
  signed.version = metadata.signed.version + 1;
  signed.expires = expires;
  const json = { signed, signatures: [] } as unknown as Parameters<typeof Metadata.fromJSON>[1];
  return Metadata.fromJSON(metadata.signed.type as MetadataKind.Targets, json) as unknown as Metadata<T>;
}

/** A TUF `expires` value (`YYYY-MM-DDTHH:MM:SSZ`, no fraction) `days` after `now`. */
export function expiresAfter(now: Date, days: number): string {
  return new Date(now.getTime() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Sign `metadata` with each signer whose key id is in `keyIds`; returns the key ids that signed. */
export function signWith(
  metadata: Metadata<AnySigned>,
  keyIds: readonly string[],
  signers: ReadonlyMap<string, (data: Buffer) => Signature>,
): string[] {
  const signed: string[] = [];
  for (const keyId of keyIds) {
    const signer = signers.get(keyId);
    if (!signer) continue;
    metadata.sign(signer, true);
    signed.push(keyId);
  }
  return signed;
}

/**
 * A snapshot listing `targets` and every delegated role at the given versions, each with its
 * length read from the file on disk (hashes are optional in TUF and left out).
 */
export async function buildSnapshot(
  dir: string,
  versions: ReadonlyMap<string, number>,
  opts: { version: number; expires: string; unrecognizedFields?: Record<string, unknown> },
): Promise<Metadata<Snapshot>> {
  const meta: Record<string, MetaFile> = {};
  for (const [role, version] of [...versions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const { size } = await stat(metadataPath(dir, role, version));
    meta[snapshotMetaKey(role)] = new MetaFile({ version, length: size });
  }
  const snapshot = new Snapshot({
    version: opts.version,
    specVersion: SPEC_VERSION,
    expires: opts.expires,
    meta,
    unrecognizedFields: opts.unrecognizedFields as Snapshot['unrecognizedFields'],
  });
  return new Metadata(snapshot);
}

/** A timestamp naming snapshot `snapshotVersion` with its length and SHA-256, read from disk. */
export async function buildTimestamp(
  dir: string,
  snapshotVersion: number,
  opts: { version: number; expires: string },
): Promise<Metadata<Timestamp>> {
  const bytes = await readFile(metadataPath(dir, 'snapshot', snapshotVersion));
  const timestamp = new Timestamp({
    version: opts.version,
    specVersion: SPEC_VERSION,
    expires: opts.expires,
    snapshotMeta: new MetaFile({
      version: snapshotVersion,
      length: bytes.length,
      hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
    }),
  });
  return new Metadata(timestamp);
}

/** The TUF specification version patchbay writes. */
export const SPEC_VERSION = '1.0.31';

/** Absolute path under `targets/` of a target file stored by its SHA-256 (consistent snapshots). */
export function targetFilePath(dir: string, targetPath: string, sha256: string): string {
  assertTargetPath(targetPath);
  return join(dir, TARGETS_DIR, ...consistentTargetPath(targetPath, sha256).split('/'));
}

/**
 * Store a target file at `targets/<dir>/<sha256>.<basename>`: copied (from a file path or a
 * buffer) to a temp file while hashing, fsynced, renamed. With `expected`, the length and
 * SHA-256 must match (PB_ERR_SIZE_MISMATCH / PB_ERR_DIGEST_MISMATCH, nothing stored). An
 * identical file already in place is kept.
 */
export async function addTargetFile(
  dir: string,
  targetPath: string,
  source: string | Buffer,
  expected?: { length: number; sha256: string },
): Promise<{ length: number; sha256: string; path: string }> {
  assertTargetPath(targetPath);
  const staging = join(dir, TARGETS_DIR);
  await mkdir(staging, { recursive: true });
  const temp = atomicTempPath(join(staging, 'incoming'));
  const hash = createHash('sha256');
  let length = 0;
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', 0o644);
    if (typeof source === 'string') {
      for await (const chunk of createReadStream(source, { highWaterMark: HASH_READ_BYTES })) {
        hash.update(chunk as Buffer);
        length += (chunk as Buffer).length;
        await handle.write(chunk as Buffer);
      }
    } else {
      hash.update(source);
      length = source.length;
      await handle.writeFile(source);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    const sha256 = hash.digest('hex');
    const what = typeof source === 'string' ? source : `target ${targetPath}`;
    if (expected && expected.length !== length) {
      throw new PatchbayError(
        ErrorCodes.SIZE_MISMATCH,
        `${what} has ${length} bytes, expected ${expected.length}`,
        {
          targetPath,
          expected: expected.length,
          actual: length,
        },
      );
    }
    if (expected && expected.sha256 !== sha256) {
      throw new PatchbayError(
        ErrorCodes.DIGEST_MISMATCH,
        `${what} has sha256 ${sha256}, expected ${expected.sha256}`,
        {
          targetPath,
          expected: expected.sha256,
          actual: sha256,
        },
      );
    }
    const path = targetFilePath(dir, targetPath, sha256);
    if (!(await sameFile(path, sha256))) {
      await mkdir(dirname(path), { recursive: true });
      await rename(temp, path);
      await fsyncDir(dirname(path));
    }
    return { length, sha256, path };
  } finally {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true });
  }
}

async function sameFile(path: string, sha256: string): Promise<boolean> {
  try {
    return (await sha256File(path)) === sha256;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A target path is relative, `/`-separated, without empty, `.` or `..` segments, backslashes or NUL. */
function assertTargetPath(targetPath: string): void {
  const bad =
    targetPath.includes('\\') ||
    targetPath.includes('\0') ||
    targetPath.split('/').some((part) => part === '' || part === '.' || part === '..');
  if (bad) {
    throw new PatchbayError(
      ErrorCodes.UNSAFE_NAME,
      `target path "${targetPath}" is not a safe relative path`,
      {
        targetPath,
      },
    );
  }
}
