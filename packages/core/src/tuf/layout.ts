// Names and paths of the patchbay TUF repository (docs/tuf-repository.md): pure functions,
// no I/O. Every part of patchbay (publisher, staging server, client) builds its names here.

/** Subdirectory (and URL segment) of a repository holding the metadata files. */
export const METADATA_DIR = 'metadata';
/** Subdirectory (and URL segment) of a repository holding the consistent-snapshot target files. */
export const TARGETS_DIR = 'targets';

/** The four top-level roles. */
export type TopLevelRole = 'root' | 'targets' | 'snapshot' | 'timestamp';
export const TOP_LEVEL_ROLES: readonly TopLevelRole[] = ['root', 'targets', 'snapshot', 'timestamp'];

/** Joins product and release in a delegated role name; it appears in neither. */
const ROLE_SEPARATOR = '~';

/** The delegated targets role of a product release: `<product>~<release>`. */
export function roleNameFor(product: string, release: string): string {
  if (product.includes(ROLE_SEPARATOR) || release.includes(ROLE_SEPARATOR)) {
    throw new RangeError(`product "${product}" and release "${release}" may not contain "${ROLE_SEPARATOR}"`);
  }
  return `${product}${ROLE_SEPARATOR}${release}`;
}

/** The product and release of a delegated role name, or undefined for any other name. */
export function parseRoleName(role: string): { product: string; release: string } | undefined {
  const parts = role.split(ROLE_SEPARATOR);
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return undefined;
  return { product: parts[0]!, release: parts[1]! };
}

/** The paths delegated to a product release's role: its descriptors and its patches' files. */
export function delegationPaths(product: string, release: string): string[] {
  return [`${product}/${release}/*`, `${product}/${release}/*/*`];
}

/** Target path of a patch descriptor: `<product>/<release>/<id>.json`. */
export function descriptorTargetPath(product: string, release: string, patchId: string): string {
  return `${product}/${release}/${patchId}.json`;
}

/** Target path of one of a patch's files: `<product>/<release>/<id>/<name>`. */
export function fileTargetPath(product: string, release: string, patchId: string, fileName: string): string {
  return `${product}/${release}/${patchId}/${fileName}`;
}

/** What a target path names, by its shape: a descriptor (3 segments, `.json`), a patch file (4), or neither. */
export type ParsedTargetPath =
  | { kind: 'descriptor'; product: string; release: string; patchId: string }
  | { kind: 'file'; product: string; release: string; patchId: string; fileName: string };

export function parseTargetPath(path: string): ParsedTargetPath | undefined {
  const parts = path.split('/');
  if (parts.some((part) => part === '')) return undefined;
  if (parts.length === 3 && parts[2]!.endsWith('.json') && parts[2]!.length > '.json'.length) {
    return {
      kind: 'descriptor',
      product: parts[0]!,
      release: parts[1]!,
      patchId: parts[2]!.slice(0, -'.json'.length),
    };
  }
  if (parts.length === 4) {
    return { kind: 'file', product: parts[0]!, release: parts[1]!, patchId: parts[2]!, fileName: parts[3]! };
  }
  return undefined;
}

/**
 * File name (and URL tail) of a metadata file under `metadata/`: `timestamp.json` for the
 * timestamp, `<version>.<encodeURIComponent(role)>.json` for every other role.
 */
export function metadataFileName(role: string, version: number): string {
  if (role === 'timestamp') return 'timestamp.json';
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new RangeError(`metadata version of ${role} must be an integer >= 1, got ${version}`);
  }
  return `${version}.${encodeURIComponent(role)}.json`;
}

/** The role and version of a versioned metadata file name (`3.arcserve-backup~19.0.json`), or undefined. */
export function parseMetadataFileName(name: string): { role: string; version: number } | undefined {
  const match = /^([1-9][0-9]*)\.(.+)\.json$/.exec(name);
  if (!match) return undefined;
  const version = Number(match[1]);
  if (!Number.isSafeInteger(version)) return undefined;
  let role: string;
  try {
    role = decodeURIComponent(match[2]!);
  } catch {
    return undefined;
  }
  // Only the canonical spelling names a role: one role, one file name.
  return encodeURIComponent(role) === match[2] ? { role, version } : undefined;
}

/** Snapshot meta key of a targets role: `<role>.json` (the role name itself, not encoded). */
export function snapshotMetaKey(role: string): string {
  return `${role}.json`;
}

/**
 * Path under `targets/` of a target file in the consistent-snapshot layout: the SHA-256
 * prefixes the base name, `<dir>/<sha256>.<basename>` (as tuf-js and python-tuf fetch it).
 */
export function consistentTargetPath(targetPath: string, sha256: string): string {
  const slash = targetPath.lastIndexOf('/');
  const dir = slash === -1 ? '' : targetPath.slice(0, slash + 1);
  return `${dir}${sha256}.${targetPath.slice(slash + 1)}`;
}

/**
 * A target path a repository may name: relative, `/`-separated, without empty, `.` or `..`
 * segments, backslashes or NUL (so it cannot lead out of `targets/` on any platform).
 */
export function isSafeTargetPath(path: string): boolean {
  return (
    !path.includes('\\') &&
    !path.includes('\0') &&
    path.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  );
}
