// Putting one patch into a repository edit, as `add` and `import-feed` both do: the product
// release's role (delegated when new), the vendor's product list in the top-level targets,
// the descriptor and file targets (files copied into targets/ by digest). A patch id already
// published is replaced wherever it is; an identical one changes nothing.
import { isDeepStrictEqual } from 'node:util';
import type { TargetFile } from '@tufjs/models';
import type { FeedProduct } from '@patchbay/core';
import {
  PATCHBAY_TARGETS_FIELD,
  addTargetFile,
  delegationPaths,
  descriptorBytes,
  parseTargetPath,
  patchTargets,
  roleNameFor,
  type PatchDescriptor,
} from '@patchbay/core/tuf';
import type { RepositoryEdit } from './edit.js';

/** A patch to publish: its descriptor and, for each descriptor file, the local file with those bytes. */
export interface PatchInput {
  descriptor: PatchDescriptor;
  /** file name -> local path (size and SHA-256 already those of the descriptor) */
  sources: ReadonlyMap<string, string>;
}

export type PatchOutcome = 'added' | 'replaced' | 'unchanged';

/** The vendor and products of the targets as this edit will publish them. */
export function targetsInfo(edit: RepositoryEdit): { vendor?: string; products: FeedProduct[] } {
  const info = edit.currentTargets().signed.unrecognizedFields[PATCHBAY_TARGETS_FIELD] as
    { vendor?: string; products?: FeedProduct[] } | undefined;
  return { vendor: info?.vendor, products: info?.products ?? [] };
}

/** Set the vendor and merge products into `x-patchbay` (new products and releases added; names updated). */
export function updateTargetsInfo(
  edit: RepositoryEdit,
  vendor: string | undefined,
  products: readonly FeedProduct[],
): void {
  const current = targetsInfo(edit);
  const merged = current.products.map((p) => ({ ...p, releases: [...p.releases] }));
  for (const product of products) {
    const known = merged.find((p) => p.id === product.id);
    if (!known) merged.push({ id: product.id, name: product.name, releases: [...product.releases] });
    else {
      known.name = product.name;
      for (const release of product.releases)
        if (!known.releases.includes(release)) known.releases.push(release);
    }
  }
  const nextVendor = vendor ?? current.vendor;
  if (nextVendor === current.vendor && isDeepStrictEqual(merged, current.products)) return;
  const next = nextVendor === undefined ? { products: merged } : { vendor: nextVendor, products: merged };
  const fields = edit.targets().signed.unrecognizedFields as Record<string, unknown>;
  fields[PATCHBAY_TARGETS_FIELD] = next;
}

/** Stage one patch: role, targets, files. Returns whether it was new, replaced an earlier one, or unchanged. */
export async function stagePatch(edit: RepositoryEdit, input: PatchInput): Promise<PatchOutcome> {
  const { descriptor } = input;
  const roleName = roleNameFor(descriptor.product, descriptor.release);
  const targets = patchTargets(descriptor);
  const index = patchIndex(edit);
  const held = index.get(descriptor.id) ?? [];

  if (held.length === 1 && held[0]!.role === roleName && sameTargets(held[0]!.targets, targets))
    return 'unchanged';

  // Files first: no metadata may name a target file that is not in place.
  await addTargetFile(edit.repo.dir, targets[0]!.path, descriptorBytes(descriptor), {
    length: targets[0]!.length,
    sha256: targets[0]!.hashes.sha256!,
  });
  for (const file of descriptor.files) {
    const source = input.sources.get(file.name);
    if (source === undefined) throw new Error(`no local file for ${descriptor.id} file ${file.name}`);
    const path = targets.find((t) => t.path.endsWith(`/${file.name}`))!.path;
    await addTargetFile(edit.repo.dir, path, source, { length: file.size, sha256: file.sha256 });
  }

  for (const { role, targets: old } of held) {
    const staged = edit.role(role);
    for (const target of old) delete (staged.signed.targets as Record<string, TargetFile>)[target.path];
  }
  if (!edit.roleNames().includes(roleName)) {
    await edit.addDelegation(roleName, delegationPaths(descriptor.product, descriptor.release));
  }
  const role = edit.role(roleName);
  for (const target of targets) role.signed.addTarget(target);
  index.set(descriptor.id, [{ role: roleName, targets }]);
  return held.length > 0 ? 'replaced' : 'added';
}

type PatchIndex = Map<string, { role: string; targets: TargetFile[] }[]>;

/**
 * Every role holding each patch id (its descriptor or files), with those targets: built once
 * per edit and kept current by stagePatch, so an import of n patches reads the roles once
 * instead of once per patch (that was quadratic: 20,000 patches took minutes).
 */
const indexes = new WeakMap<RepositoryEdit, PatchIndex>();

function patchIndex(edit: RepositoryEdit): PatchIndex {
  let index = indexes.get(edit);
  if (index) return index;
  index = new Map();
  for (const name of edit.roleNames()) {
    const role = edit.currentRole(name);
    if (!role) continue;
    const byPatch = new Map<string, TargetFile[]>();
    for (const target of Object.values(role.signed.targets)) {
      const id = parseTargetPath(target.path)?.patchId;
      if (id === undefined) continue;
      const list = byPatch.get(id);
      if (list) list.push(target);
      else byPatch.set(id, [target]);
    }
    for (const [id, targets] of byPatch) {
      const entries = index.get(id);
      if (entries) entries.push({ role: name, targets });
      else index.set(id, [{ role: name, targets }]);
    }
  }
  indexes.set(edit, index);
  return index;
}

function sameTargets(a: readonly TargetFile[], b: readonly TargetFile[]): boolean {
  if (a.length !== b.length) return false;
  const byPath = new Map(a.map((t) => [t.path, t]));
  return b.every((t) => {
    const other = byPath.get(t.path);
    return other !== undefined && isDeepStrictEqual(other.toJSON(), t.toJSON());
  });
}
