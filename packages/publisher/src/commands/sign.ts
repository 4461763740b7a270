// patchbay-publish sign: one more signature on the newest version of a role, by one key,
// so that a k-of-n threshold is collected from several people one at a time.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import { createSigner, keyIdOf, readMetadata, readPrivateKeyFile, writeMetadata } from '@patchbay/core/tuf';
import { RepositoryEdit, countSignatures, type WrittenRole } from '../edit.js';
import { describeWritten, type Outcome } from '../outcome.js';

export interface SignOptions {
  repo: string;
  role: string;
  keyFile: string;
  /** with a keys directory: publish a new snapshot and timestamp when the signed role is listed in them */
  keys: string | undefined;
  now: Date;
}

/** A threshold the signed version must meet: its own, and for a new root also the previous root's. */
interface Requirement {
  by: string;
  keyIds: string[];
  threshold: number;
}

export async function sign(opts: SignOptions): Promise<Outcome> {
  const metadata = await readMetadata(opts.repo, opts.role);
  if (!metadata) {
    throw new PatchbayError(ErrorCodes.TUF_REPOSITORY, `${opts.repo} has no metadata for role ${opts.role}`, {
      role: opts.role,
    });
  }
  const requirements = await requirementsFor(opts.repo, opts.role, metadata.signed.version);
  const privateKey = await readPrivateKeyFile(opts.keyFile);
  const keyId = keyIdOf(privateKey);
  const allowed = new Set(requirements.flatMap((r) => r.keyIds));
  if (!allowed.has(keyId)) {
    throw new PatchbayError(
      ErrorCodes.SIGNATURE,
      `key ${keyId} (${opts.keyFile}) is not one of ${opts.role}'s keys (${[...allowed].join(', ') || 'none'}); nothing signed`,
      { keyId, role: opts.role },
    );
  }
  const version = metadata.signed.version;
  const already = metadata.signatures[keyId] !== undefined;
  if (!already) {
    metadata.sign(createSigner(privateKey));
    await writeMetadata(opts.repo, opts.role, metadata, { sameVersion: true });
  }
  const status = requirements.map((r) => ({
    by: r.by,
    signatures: countSignatures(metadata, r.keyIds),
    threshold: r.threshold,
  }));
  const lines = [
    already
      ? `${opts.role} version ${version} already carries the signature of key ${keyId}`
      : `signed ${opts.role} version ${version} with key ${keyId}`,
    ...status.map(
      (s) =>
        `  ${s.by}: ${s.signatures}/${s.threshold} signature${s.threshold === 1 ? '' : 's'}${s.signatures < s.threshold ? ` (${s.threshold - s.signatures} more needed)` : ''}`,
    ),
  ];

  // A targets role's or the snapshot's bytes are listed (length, hash) by the role above it.
  let written: WrittenRole[] = [];
  if (!already && opts.role !== 'root' && opts.role !== 'timestamp') {
    if (opts.keys !== undefined) {
      const edit = await RepositoryEdit.open(opts.repo, opts.keys, opts.now);
      written = opts.role === 'snapshot' ? [await edit.publishTimestamp()] : await edit.publishSnapshot();
      lines.push(...written.map(describeWritten));
    } else {
      lines.push(
        `  the ${opts.role === 'snapshot' ? 'timestamp' : 'snapshot'} still lists the unsigned bytes: run patchbay-publish ${opts.role === 'snapshot' ? 'timestamp' : 'snapshot'} --repo ${opts.repo} --keys DIR (or give sign --keys DIR)`,
      );
    }
  }
  const complete = status.every((s) => s.signatures >= s.threshold);
  return {
    ok: true,
    json: { role: opts.role, version, keyId, added: !already, thresholds: status, complete, written },
    lines,
  };
}

async function requirementsFor(repo: string, role: string, version: number): Promise<Requirement[]> {
  const root = await readMetadata(repo, 'root');
  if (!root) throw new PatchbayError(ErrorCodes.TUF_REPOSITORY, `${repo} has no root metadata`, { repo });
  if (role === 'root') {
    const own = root.signed.roles.root!;
    const requirements: Requirement[] = [
      { by: `root version ${version}`, keyIds: own.keyIDs, threshold: own.threshold },
    ];
    const previous = version > 1 ? await readMetadata(repo, 'root', version - 1) : undefined;
    if (previous) {
      const old = previous.signed.roles.root!;
      requirements.push({ by: `root version ${version - 1}`, keyIds: old.keyIDs, threshold: old.threshold });
    }
    return requirements;
  }
  const topLevel = root.signed.roles[role];
  if (topLevel)
    return [
      { by: `root version ${root.signed.version}`, keyIds: topLevel.keyIDs, threshold: topLevel.threshold },
    ];
  const targets = await readMetadata(repo, 'targets');
  const delegated = targets?.signed.delegations?.roles?.[role];
  if (!targets || !delegated) {
    throw new PatchbayError(
      ErrorCodes.TUF_REPOSITORY,
      `role ${role} is neither a top-level role nor delegated by targets`,
      { role },
    );
  }
  return [
    {
      by: `targets version ${targets.signed.version}`,
      keyIds: delegated.keyIDs,
      threshold: delegated.threshold,
    },
  ];
}
