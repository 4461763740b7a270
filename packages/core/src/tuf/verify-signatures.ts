// The checks verify.ts makes on one metadata file: that it parses as the kind it should be,
// and that its delegator's keys sign it as the layout asks. Every signature check is
// @tufjs/models' own (verifyDelegate); this adds key ids and distinct keys.
import { Metadata, MetadataKind } from '@tufjs/models';
import type { Key, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { computeKeyId } from './keys.js';
import type { Report } from './verify-result.js';

/** A role's key ids and threshold (models does not export the class by name). */
type Role = Root['roles'][string];

/** The metadata that delegates a role: root for the top-level roles, a targets role for the rest. */
export type Delegator = Metadata<Root> | Metadata<Targets>;
export type AnyMetadata = Metadata<Root | Targets | Snapshot | Timestamp>;

/** Parse `bytes` as metadata of `kind`; undefined (and a problem) when it is not. */
export function parseOrReport<T extends Root | Targets | Snapshot | Timestamp>(
  kind: MetadataKind,
  bytes: Buffer,
  role: string,
  name: string,
  problem: Report,
): Metadata<T> | undefined {
  let json: Parameters<typeof Metadata.fromJSON>[1];
  try {
    json = JSON.parse(bytes.toString('utf8')) as typeof json;
  } catch {
    // Not the parser's message: it quotes the bytes, and they may not be metadata at all.
    problem(role, `is not valid JSON`, name);
    return undefined;
  }
  try {
    return Metadata.fromJSON(kind as MetadataKind.Targets, json) as unknown as Metadata<T>;
  } catch (err) {
    problem(role, `is not valid ${kind} metadata: ${(err as Error).message}`, name);
    return undefined;
  }
}

/**
 * The delegator's signature check for `role` (models' verifyDelegate: a threshold of the
 * role's key ids with valid signatures), plus what the layout adds: each of the role's key
 * ids is the SHA-256 of its key's canonical JSON, and the threshold is met by distinct keys
 * (one key listed under two key ids counts once). True when all hold.
 */
export function checkSignatures(
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
