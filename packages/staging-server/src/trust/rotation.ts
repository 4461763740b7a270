// Key rotation (docs/security.md "Key rotation"): the old key signs core's
// rotationStatement(newKey); <keyFile>.rotation.json keeps those endorsements so
// that clients which pinned an old key can follow the chain to the current one.
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import {
  ErrorCodes,
  PatchbayError,
  rotationStatement,
  signDetached,
  verifyDetached,
  writeFileAtomic,
} from '@patchbay/core';
import type { RotationEndorsement } from '../mirror.js';

/** One stored step: `key` (old, base64 SPKI) endorsed `endorses` (new) with `endorsement`. */
export interface StoredRotation extends RotationEndorsement {
  endorses: string;
  rotatedAt: string;
}

interface RotationFile {
  format: 'patchbay-key-rotation/1';
  rotations: StoredRotation[];
}

export function rotationFile(keyFile: string): string {
  return `${keyFile}.rotation.json`;
}

async function readRotationFile(keyFile: string): Promise<StoredRotation[]> {
  const path = rotationFile(keyFile);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<RotationFile>;
    return Array.isArray(parsed.rotations) ? parsed.rotations : [];
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `key rotation file ${path} is not valid JSON`,
      { path },
      { cause: err },
    );
  }
}

/**
 * The endorsements that lead to `currentKey`, oldest first. Steps that do not verify
 * or do not end in the current key (a rotation that crashed halfway) are left out.
 */
export async function readRotation(keyFile: string, currentKey: string): Promise<RotationEndorsement[]> {
  const stored = await readRotationFile(keyFile);
  const chain: RotationEndorsement[] = [];
  let target = currentKey;
  for (let i = stored.length - 1; i >= 0; i--) {
    const step = stored[i]!;
    if (step.endorses !== target) continue;
    let valid = false;
    try {
      valid = verifyDetached(rotationStatement(step.endorses), step.endorsement, step.key);
    } catch {
      valid = false;
    }
    if (!valid) continue;
    chain.unshift({ key: step.key, endorsement: step.endorsement });
    target = step.key;
  }
  return chain;
}

/** Sign the statement naming `newKey` with the old private key and append it to the rotation file. */
export async function recordRotation(
  keyFile: string,
  oldPrivateKey: KeyObject,
  oldKey: string,
  newKey: string,
  now: Date = new Date(),
): Promise<StoredRotation> {
  const step: StoredRotation = {
    key: oldKey,
    endorsement: signDetached(rotationStatement(newKey), oldPrivateKey),
    endorses: newKey,
    rotatedAt: now.toISOString(),
  };
  const file: RotationFile = {
    format: 'patchbay-key-rotation/1',
    rotations: [...(await readRotationFile(keyFile)), step],
  };
  await writeFileAtomic(rotationFile(keyFile), JSON.stringify(file, null, 2) + '\n');
  return step;
}
