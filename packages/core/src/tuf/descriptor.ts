// Patch descriptors in targets metadata (docs/tuf-repository.md "Target paths"): building
// them from feed patches, reading them back out of a verified delegated role (the three
// read rules), and turning verified roles into the Catalog the resolver and planner use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ValidateFunction } from 'ajv';
import { canonicalize } from '@tufjs/canonical-json';
import { TargetFile } from '@tufjs/models';
import type { Snapshot, Targets } from '@tufjs/models';
import { CATALOG_SCHEMA_PATH, FEED_SCHEMA_PATH, compileFeedValidators } from '../feed.js';
import { ErrorCodes, PatchbayError } from '../errors.js';
import { patchExitCodeConflict } from '../exit-code-classes.js';
import { detectPlaceholderProblem } from '../placeholders.js';
import { holdBack } from '../hold-back.js';
import { patchFileNameIssue } from '../names.js';
import { loadPrecompiledValidator } from '../precompiled.js';
import { formatIssue, pickIssue } from '../schema-errors.js';
import type { Catalog, FeedPatch, FeedProduct } from '../types.js';
import { descriptorTargetPath, fileTargetPath, parseRoleName, parseTargetPath } from './layout.js';

/** The JSON fields a TargetFile keeps beside length and hashes. */
type TargetFileFields = NonNullable<ConstructorParameters<typeof TargetFile>[0]['unrecognizedFields']>;

/** A patch file as a descriptor names it: no `url`, it is found by its target path. */
export interface DescriptorFile {
  name: string;
  size: number;
  sha256: string;
}

/** A feed patch (CONTRACT §1) with every field, its files as `{ name, size, sha256 }`. */
export type PatchDescriptor = Omit<FeedPatch, 'files'> & { files: DescriptorFile[] };

/** A descriptor that passed the read rules, with the target paths of its files. */
export interface RoleDescriptor {
  role: string;
  targetPath: string;
  descriptor: PatchDescriptor;
  files: (DescriptorFile & { targetPath: string })[];
}

/** A descriptor refused by the read rules: its patch is held back, the rest of the role stands. */
export interface DescriptorRefusal {
  role: string;
  targetPath: string;
  /** the id the target path names */
  patchId: string;
  error: string;
}

/** A target file a staging server could not verify (its snapshot's `x-patchbay-unavailable`). */
export interface UnavailableTarget {
  path: string;
  sha256: string;
  reason: string;
}

/** A patch left out of a catalog, and why (as /v1/status `heldBack`). */
export interface HeldBackPatch {
  patchId: string;
  error: string;
}

/** Where the top-level targets `signed` carries the vendor and its products. */
export const PATCHBAY_TARGETS_FIELD = 'x-patchbay';
/** Where a staging server's snapshot `signed` lists the target files it withholds. */
export const UNAVAILABLE_SNAPSHOT_FIELD = 'x-patchbay-unavailable';

/** The vendor and products of the top-level targets' `x-patchbay`. */
export interface PatchbayTargetsInfo {
  vendor: string;
  products: FeedProduct[];
}

/**
 * The descriptor of a feed patch: every field but `files`, which keep name, size and sha256.
 * Fields left undefined are dropped (canonical JSON cannot encode them).
 */
export function descriptorFromPatch(patch: FeedPatch | PatchDescriptor): PatchDescriptor {
  const { files, ...rest } = patch;
  const descriptor = {
    ...rest,
    files: files.map((file) => ({ name: file.name, size: file.size, sha256: file.sha256 })),
  };
  return JSON.parse(JSON.stringify(descriptor)) as PatchDescriptor;
}

/** The descriptor target's bytes: the canonical JSON of the descriptor. */
export function descriptorBytes(descriptor: PatchDescriptor): Buffer {
  return Buffer.from(canonicalize(descriptor), 'utf8');
}

/**
 * The targets a patch adds to its role: the descriptor (bytes = canonical JSON, `custom.patchbay.patch`)
 * first, then one per file at `<product>/<release>/<id>/<name>`.
 */
export function patchTargets(descriptor: PatchDescriptor): TargetFile[] {
  const { product, release, id } = descriptor;
  const bytes = descriptorBytes(descriptor);
  const targets = [
    new TargetFile({
      path: descriptorTargetPath(product, release, id),
      length: bytes.length,
      hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
      unrecognizedFields: { custom: { patchbay: { patch: descriptor } } } as unknown as TargetFileFields,
    }),
  ];
  for (const file of descriptor.files) {
    targets.push(
      new TargetFile({
        path: fileTargetPath(product, release, id, file.name),
        length: file.size,
        hashes: { sha256: file.sha256 },
      }),
    );
  }
  return targets;
}

/**
 * The descriptors of one verified delegated targets role, by the read rules:
 * 1. every target whose path has three segments and ends in `.json` is a descriptor; its
 *    `custom.patchbay.patch` must pass the feed schema's patch definition, its id, product and
 *    release must equal the path's (and the role's), and its length and SHA-256 must be those
 *    of the descriptor's canonical JSON;
 * 2. each descriptor file's target `<product>/<release>/<id>/<name>` must be in the same role
 *    with `length == size` and `hashes.sha256 == sha256`;
 * 3. anything else is ignored. A descriptor that fails is refused with its reason, not the role.
 */
export function readDescriptors(
  role: string,
  targets: Pick<Targets, 'targets'>,
): { descriptors: RoleDescriptor[]; refused: DescriptorRefusal[] } {
  const descriptors: RoleDescriptor[] = [];
  const refused: DescriptorRefusal[] = [];
  const roleRelease = parseRoleName(role);
  for (const [targetPath, target] of Object.entries(targets.targets)) {
    const parsed = parseTargetPath(targetPath);
    if (parsed?.kind !== 'descriptor') continue;
    const refuse = (error: string) => refused.push({ role, targetPath, patchId: parsed.patchId, error });
    if (roleRelease && (roleRelease.product !== parsed.product || roleRelease.release !== parsed.release)) {
      refuse(
        `descriptor ${targetPath} is outside role ${role} (${roleRelease.product} ${roleRelease.release})`,
      );
      continue;
    }
    const result = checkDescriptor(targetPath, target, parsed);
    if (typeof result === 'string') {
      refuse(result);
      continue;
    }
    const files: RoleDescriptor['files'] = [];
    const problems: string[] = [];
    for (const file of result.files) {
      const filePath = fileTargetPath(parsed.product, parsed.release, parsed.patchId, file.name);
      const fileTarget = targets.targets[filePath];
      if (!fileTarget) problems.push(`file ${file.name}: target ${filePath} is not in role ${role}`);
      else if (fileTarget.length !== file.size) {
        problems.push(
          `file ${file.name}: target ${filePath} has length ${fileTarget.length}, the descriptor says ${file.size}`,
        );
      } else if (fileTarget.hashes.sha256 !== file.sha256) {
        problems.push(
          `file ${file.name}: target ${filePath} has sha256 ${fileTarget.hashes.sha256 ?? '(none)'}, the descriptor says ${file.sha256}`,
        );
      } else files.push({ ...file, targetPath: filePath });
    }
    if (problems.length > 0) refuse(`descriptor ${targetPath}: ${problems.join('; ')}`);
    else descriptors.push({ role, targetPath, descriptor: result, files });
  }
  return { descriptors, refused };
}

/** Rule 1 for one descriptor target: the descriptor, or why it is refused. */
function checkDescriptor(
  targetPath: string,
  target: TargetFile,
  parsed: { product: string; release: string; patchId: string },
): PatchDescriptor | string {
  const patch = (target.custom.patchbay as { patch?: unknown } | undefined)?.patch;
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return `descriptor ${targetPath} has no custom.patchbay.patch object`;
  }
  const problem = descriptorSchemaProblem(patch, `descriptor ${targetPath}`);
  if (problem !== undefined) return problem;
  const descriptor = patch as PatchDescriptor;
  for (const [field, expected] of [
    ['id', parsed.patchId],
    ['product', parsed.product],
    ['release', parsed.release],
  ] as const) {
    if (descriptor[field] !== expected) {
      return `descriptor ${targetPath}: ${field} "${descriptor[field]}" differs from the path's "${expected}"`;
    }
  }
  let bytes: Buffer;
  try {
    bytes = descriptorBytes(descriptor);
  } catch (err) {
    return `descriptor ${targetPath} has no canonical JSON form: ${(err as Error).message}`;
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (target.length !== bytes.length || target.hashes.sha256 !== sha256) {
    return `descriptor ${targetPath}: length and sha256 are not those of its custom.patchbay.patch (${bytes.length} bytes, sha256 ${sha256})`;
  }
  return descriptor;
}

let patchValidator: ValidateFunction | undefined;

/** The feed schema's validator (precompiled at build time when current), loaded on first use. */
function feedValidator(): ValidateFunction {
  if (!patchValidator) {
    const feedText = readFileSync(FEED_SCHEMA_PATH, 'utf8');
    patchValidator =
      loadPrecompiledValidator('feed', [feedText]) ??
      compileFeedValidators(feedText, readFileSync(CATALOG_SCHEMA_PATH, 'utf8')).feed;
  }
  return patchValidator;
}

/** Prefix of the one patch in the wrapper feed that lets the feed schema check a descriptor. */
const WRAPPED_PATCH = '/patches/0';

/**
 * Why a descriptor fails the feed schema's patch definition (or the feed's file-name and
 * exit-code-list rules), or undefined. The schema is the feed's own: the descriptor is checked
 * as the one patch of a minimal feed, its files given the `url` a feed patch needs.
 */
export function descriptorSchemaProblem(value: object, source: string): string | undefined {
  const patch = value as Partial<PatchDescriptor>;
  const files = Array.isArray(patch.files)
    ? patch.files.map((file: unknown) =>
        typeof file === 'object' && file !== null ? { url: 'descriptor', ...file } : file,
      )
    : patch.files;
  const wrapper = {
    format: 'patchbay-feed/1',
    vendor: 'descriptor',
    sequence: 1,
    generatedAt: '2000-01-01T00:00:00Z',
    products: [],
    patches: [{ ...patch, files }],
  };
  const validate = feedValidator();
  if (!validate(wrapper)) {
    const issue = pickIssue(validate.errors ?? [], wrapper);
    const path = issue.path.startsWith(WRAPPED_PATCH) ? issue.path.slice(WRAPPED_PATCH.length) : issue.path;
    return formatIssue(source, { ...issue, path });
  }
  const checked = patch as PatchDescriptor;
  const issue = patchFileNameIssue(
    checked.files.map((file) => file.name),
    checked.platforms,
  );
  if (issue) return `${source}: ${issue.reason}`;
  const exitCodes = patchExitCodeConflict(checked);
  if (exitCodes) return `${source}: ${exitCodes.action}: ${exitCodes.text}`;
  const detectProblem = detectPlaceholderProblem(checked.detect);
  return detectProblem && `${source}: detect: ${detectProblem}`;
}

/**
 * The vendor and products of verified top-level targets (`signed["x-patchbay"]`), checked
 * against the feed schema's vendor and products definitions. PB_ERR_TUF_VERIFY when absent or invalid.
 */
export function patchbayTargetsInfo(targets: Pick<Targets, 'unrecognizedFields'>): PatchbayTargetsInfo {
  const info = targets.unrecognizedFields[PATCHBAY_TARGETS_FIELD] as Partial<PatchbayTargetsInfo> | undefined;
  const wrapper = {
    format: 'patchbay-feed/1',
    vendor: info?.vendor,
    sequence: 1,
    generatedAt: '2000-01-01T00:00:00Z',
    products: info?.products,
    patches: [],
  };
  const validate = feedValidator();
  if (typeof info !== 'object' || info === null || !validate(wrapper)) {
    const issue =
      typeof info === 'object' && info !== null
        ? pickIssue(validate.errors ?? [], wrapper)
        : { path: '', rule: 'required', message: 'is missing' };
    throw new PatchbayError(ErrorCodes.TUF_VERIFY, formatIssue(`targets ${PATCHBAY_TARGETS_FIELD}`, issue), {
      field: PATCHBAY_TARGETS_FIELD,
    });
  }
  return { vendor: info.vendor!, products: info.products! };
}

/** The target files a staging server's snapshot says it withholds (`x-patchbay-unavailable`); malformed entries are skipped. */
export function unavailableTargets(snapshot: Pick<Snapshot, 'unrecognizedFields'>): UnavailableTarget[] {
  const list = snapshot.unrecognizedFields[UNAVAILABLE_SNAPSHOT_FIELD];
  if (!Array.isArray(list)) return [];
  return list
    .filter(
      (entry): entry is UnavailableTarget & Record<string, never> =>
        typeof entry === 'object' &&
        entry !== null &&
        typeof (entry as Record<string, unknown>).path === 'string' &&
        typeof (entry as Record<string, unknown>).sha256 === 'string' &&
        typeof (entry as Record<string, unknown>).reason === 'string',
    )
    .map(({ path, sha256, reason }) => ({ path, sha256, reason }));
}

export interface CatalogFromRolesInput {
  /** the verified top-level targets (its `x-patchbay` gives vendor and products) */
  targets: Pick<Targets, 'unrecognizedFields' | 'version' | 'expires'>;
  /** the verified delegated roles, by role name */
  roles: ReadonlyMap<string, Pick<Targets, 'targets' | 'expires'>>;
  /** target files the serving mirror withholds: their patches (and dependants) are held back */
  unavailable?: readonly UnavailableTarget[];
  /** the URL a catalog gives a file (e.g. `/v1/blobs/sha256/<hex>`, or its consistent target URL) */
  fileUrl: (file: { sha256: string; targetPath: string; name: string }) => string;
  /** catalog `sequence` and `upstreamSequence` (default: the top-level targets version) */
  sequence?: number;
  /** `generatedAt` and `publishedAt` (default: now) */
  now?: Date;
}

/**
 * Verified targets roles as core's Catalog, so the resolver and planner run on verified data.
 * Patches are ordered by role name, then id. Held back (with reasons): refused descriptors,
 * patches whose file is unavailable, patches outside the declared products, a patch id found
 * in more than one role, and every patch that requires a held-back one. `expiresAt` is the
 * earliest expiry of the roles used.
 */
export function catalogFromRoles(input: CatalogFromRolesInput): {
  catalog: Catalog;
  heldBack: HeldBackPatch[];
} {
  const { vendor, products } = patchbayTargetsInfo(input.targets);
  const declared = new Set(products.flatMap((p) => p.releases.map((r) => `${p.id}\0${r}`)));
  const unavailableByPath = new Map((input.unavailable ?? []).map((u) => [u.path, u]));
  const unavailableBySha = new Map((input.unavailable ?? []).map((u) => [u.sha256, u]));

  const failed = new Map<string, string>();
  const found: RoleDescriptor[] = [];
  const roleOf = new Map<string, string>();
  let expiresAt = input.targets.expires;
  for (const name of [...input.roles.keys()].sort()) {
    const role = input.roles.get(name)!;
    if (role.expires < expiresAt) expiresAt = role.expires;
    const { descriptors, refused } = readDescriptors(name, role);
    for (const refusal of refused) failed.set(refusal.patchId, refusal.error);
    for (const entry of descriptors.sort((a, b) => compareText(a.descriptor.id, b.descriptor.id))) {
      const id = entry.descriptor.id;
      const other = roleOf.get(id);
      if (other !== undefined) {
        failed.set(id, `patch id ${id} is in role ${other} and role ${name}`);
        continue;
      }
      roleOf.set(id, name);
      found.push(entry);
      const { product, release } = entry.descriptor;
      if (!declared.has(`${product}\0${release}`)) {
        failed.set(
          id,
          `product "${product}" release "${release}" is not declared in the targets' ${PATCHBAY_TARGETS_FIELD} products`,
        );
        continue;
      }
      for (const file of entry.files) {
        const gone = unavailableByPath.get(file.targetPath) ?? unavailableBySha.get(file.sha256);
        if (gone) {
          failed.set(id, `file ${file.name} is unavailable on the mirror: ${gone.reason}`);
          break;
        }
      }
    }
  }

  const patches: FeedPatch[] = found.map(({ descriptor, files }) => ({
    ...descriptor,
    files: files.map(({ targetPath, ...file }) => ({ ...file, url: input.fileUrl({ ...file, targetPath }) })),
  }));
  const heldBack = holdBack(patches, failed);
  const held = new Set(heldBack.map((h) => h.patchId));
  const now = (input.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const sequence = input.sequence ?? input.targets.version;
  const catalog: Catalog = {
    format: 'patchbay-catalog/1',
    vendor,
    sequence,
    upstreamSequence: sequence,
    generatedAt: now,
    publishedAt: now,
    expiresAt,
    products,
    patches: patches.filter((p) => !held.has(p.id)),
  };
  return { catalog, heldBack };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
