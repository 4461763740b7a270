// Specification 5.4 to 5.6 for verify.ts: one role's file checked against what lists it (its
// meta: length, hashes, version), its delegator's signatures and its expiry; then every
// delegated role, depth first in delegation order, each once.
import { MetadataKind } from '@tufjs/models';
import type { MetaFile, Metadata, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { metadataFileName, snapshotMetaKey } from './layout.js';
import type { VerifyRun } from './verify-result.js';
import { checkSignatures, parseOrReport, type Delegator } from './verify-signatures.js';

/** A role's metadata, parsed even when a check failed (later steps report their own problems). */
export interface LoadedRole<T extends Targets | Snapshot | Timestamp> {
  metadata: Metadata<T>;
  /** true when every check of it passed */
  ok: boolean;
}

/** A targets role whose targets are to be checked (verify-targets.ts). */
export interface CheckedRole {
  role: string;
  metadata: Metadata<Targets>;
}

/** The file that lists a role: the timestamp lists the snapshot, the snapshot every targets role. */
function listedBy(role: string): string {
  return role === 'snapshot' ? 'timestamp' : 'snapshot';
}

/**
 * Load a role's file at the version its meta lists (`<version>.<role>.json`; with no meta, the
 * timestamp, `<role>.json`) and check it against that meta (length, hashes, version), its
 * delegator's signatures and, unless `ignoreExpiry`, its expiry. Verified bytes go into the
 * result's files.
 */
export async function loadRole<T extends Targets | Snapshot | Timestamp>(
  run: VerifyRun,
  role: string,
  delegator: Delegator,
  meta: MetaFile | undefined,
  ignoreExpiry = false,
): Promise<LoadedRole<T> | undefined> {
  const name = meta ? metadataFileName(role, meta.version) : `${role}.json`;
  const { repo, result, problem } = run;
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
        `does not match the length or hashes its ${listedBy(role)} lists: ${(err as Error).message}`,
        name,
      );
    }
  }
  const kind = role === 'timestamp' || role === 'snapshot' ? (role as MetadataKind) : MetadataKind.Targets;
  const metadata = parseOrReport<T>(kind, bytes, role, name, problem);
  if (!metadata) return undefined;
  checkSignatures(delegator, role, metadata, name, problem);
  if (meta && metadata.signed.version !== meta.version) {
    problem(
      role,
      `holds version ${metadata.signed.version}, but the ${listedBy(role)} lists version ${meta.version} (rollback or a stale file)`,
      name,
    );
  }
  if (metadata.signed.isExpired(run.now) && !ignoreExpiry)
    problem(role, `version ${metadata.signed.version} expired at ${metadata.signed.expires}`, name);
  const ok = result.problems.length === before;
  if (ok) result.files.set(name, bytes);
  return { metadata, ok };
}

/** The snapshot's meta entry of a targets role, or a problem. */
export function metaFor(run: VerifyRun, snapshot: Metadata<Snapshot>, role: string): MetaFile | undefined {
  const meta = snapshot.signed.meta[snapshotMetaKey(role)];
  if (!meta) run.problem(role, `is not listed in snapshot version ${snapshot.signed.version}`);
  return meta;
}

/** Specification 5.6: every delegated role, depth first in delegation order, each once. */
export async function verifyDelegatedRoles(
  run: VerifyRun,
  targets: Metadata<Targets>,
  snapshot: Metadata<Snapshot>,
): Promise<CheckedRole[]> {
  const { opts, result, problem } = run;
  const checked: CheckedRole[] = [];
  const visited = new Set<string>(['targets']);
  const pending: { name: string; parent: Metadata<Targets> }[] = childRoles(targets).reverse();
  while (pending.length > 0) {
    const { name, parent } = pending.pop()!;
    if (visited.has(name) || !(opts.includeRole?.(name) ?? true)) continue;
    visited.add(name);
    if (opts.skipUnlistedRoles && snapshot.signed.meta[snapshotMetaKey(name)] === undefined) continue;
    const meta = metaFor(run, snapshot, name);
    const loaded = meta && (await loadRole<Targets>(run, name, parent, meta));
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
