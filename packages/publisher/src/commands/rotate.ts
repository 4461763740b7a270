// patchbay-publish rotate: root version N+1 with a new key set for one top-level role. The new
// root is signed by the keys held here that are root keys of version N or N+1 (a client that
// trusts N follows N+1 only when a threshold of both signed it); the rest come with `sign`.
// Rotating targets (or snapshot, timestamp) also re-signs that role under its new keys.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import {
  TOP_LEVEL_ROLES,
  expiresAfter,
  loadRepository,
  nextVersion,
  readPublicKeyFile,
  signWith,
  tufKey,
  writeMetadata,
  type TopLevelRole,
} from '@patchbay/core/tuf';
import { RepositoryEdit, countSignatures, type WrittenRole } from '../edit.js';
import { loadKeyring } from '../keyring.js';
import { describeWritten, type Outcome } from '../outcome.js';
import { readSettings } from '../settings.js';

export interface RotateOptions {
  repo: string;
  keys: string;
  role: string;
  addKeyFiles: string[];
  removeKeyIds: string[];
  threshold: number | undefined;
  now: Date;
}

interface RootJson {
  keys: Record<string, unknown>;
  roles: Record<string, { keyids: string[]; threshold: number }>;
}

export async function rotate(opts: RotateOptions): Promise<Outcome> {
  const usage = (message: string) => new PatchbayError(ErrorCodes.USAGE, message, {});
  if (!TOP_LEVEL_ROLES.includes(opts.role as TopLevelRole)) {
    throw usage(`--role must be one of ${TOP_LEVEL_ROLES.join(', ')}, got "${opts.role}"`);
  }
  const role = opts.role as TopLevelRole;
  const repo = await loadRepository(opts.repo);
  const settings = await readSettings(opts.repo);
  const keyring = await loadKeyring(opts.keys);
  const added = await Promise.all(
    opts.addKeyFiles.map(async (file) => tufKey(await readPublicKeyFile(file))),
  );

  const current = repo.root.signed.roles[role]!;
  for (const id of opts.removeKeyIds) {
    if (!current.keyIDs.includes(id))
      throw usage(`--remove-key ${id} is not one of ${role}'s keys (${current.keyIDs.join(', ')})`);
  }
  for (const key of added) {
    if (current.keyIDs.includes(key.keyID) && !opts.removeKeyIds.includes(key.keyID)) {
      throw usage(`--add-key: key ${key.keyID} already is one of ${role}'s keys`);
    }
  }
  const keyIds = [
    ...current.keyIDs.filter((id) => !opts.removeKeyIds.includes(id)),
    ...added.map((k) => k.keyID),
  ];
  const uniqueIds = [...new Set(keyIds)];
  const threshold = opts.threshold ?? Math.min(current.threshold, uniqueIds.length);
  if (uniqueIds.length === 0) throw usage(`${role} would have no keys left`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > uniqueIds.length) {
    throw usage(`--threshold must be between 1 and the ${uniqueIds.length} key(s) ${role} would have`);
  }
  if (added.length === 0 && opts.removeKeyIds.length === 0 && threshold === current.threshold) {
    throw usage('nothing to rotate: give --add-key, --remove-key or a new --threshold');
  }

  const root = nextVersion(repo.root, expiresAfter(opts.now, settings.expires.root), (signed) => {
    const json = signed as unknown as RootJson;
    for (const key of added) json.keys[key.keyID] = key.toJSON();
    json.roles[role] = { keyids: uniqueIds, threshold };
    const used = new Set(Object.values(json.roles).flatMap((r) => r.keyids));
    json.keys = Object.fromEntries(Object.entries(json.keys).filter(([id]) => used.has(id)));
  });
  const oldRoot = repo.root.signed.roles.root!;
  const newRoot = root.signed.roles.root!;
  signWith(root, [...new Set([...oldRoot.keyIDs, ...newRoot.keyIDs])], keyring.signers());
  await writeMetadata(opts.repo, 'root', root);
  const byOld = countSignatures(root, oldRoot.keyIDs);
  const bySelf = countSignatures(root, newRoot.keyIDs);
  const version = root.signed.version;
  const written: WrittenRole[] = [
    {
      role: 'root',
      version,
      file: `${version}.root.json`,
      signatures: Math.min(byOld, bySelf),
      threshold: newRoot.threshold,
    },
  ];
  const lines = [
    `root version ${version}: ${role} keys ${uniqueIds.join(', ')} (threshold ${threshold})`,
    `  signed by ${byOld}/${oldRoot.threshold} of root version ${version - 1}'s keys and ${bySelf}/${newRoot.threshold} of its own`,
  ];
  const rootComplete = byOld >= oldRoot.threshold && bySelf >= newRoot.threshold;
  if (!rootComplete)
    lines.push(`  collect the rest with patchbay-publish sign --repo ${opts.repo} --role root --key FILE`);

  // The rotated role's metadata is signed anew, by its new keys, under the new root.
  const edit = new RepositoryEdit({ ...repo, root }, keyring, settings, opts.now);
  if (role === 'targets') {
    if (settings.delegation === undefined) {
      const keys = Object.fromEntries(uniqueIds.map((id) => [id, root.signed.keys[id]!.toJSON()]));
      edit.rekeyDelegations(keys, uniqueIds, threshold);
    }
    edit.targets();
    written.push(...(await edit.commit()));
  } else if (role === 'snapshot') {
    written.push(...(await edit.publishSnapshot()));
  } else if (role === 'timestamp') {
    written.push(await edit.publishTimestamp());
  }
  lines.push(...written.slice(1).map(describeWritten));
  return {
    ok: true,
    json: {
      role,
      version,
      keyIds: uniqueIds,
      threshold,
      rootSignatures: { previous: byOld, own: bySelf },
      rootComplete,
      written,
    },
    lines,
  };
}
