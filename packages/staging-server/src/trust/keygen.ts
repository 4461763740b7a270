// patchbay-server keygen [--force | --rotate]: make the mirror's signing key.
import { ErrorCodes, generateSigningKeyPair, parsePrivateKey, PatchbayError } from '@patchbay/core';
import {
  createMirrorKey,
  type MirrorKeyConfig,
  describeKey,
  mirrorKeyFile,
  readMirrorKey,
  writeKeyFile,
} from './mirror-key.js';
import { recordRotation, rotationFile } from './rotation.js';

export interface KeygenOptions {
  /** replace an existing key without an endorsement (clients that pinned it will refuse the new one) */
  force?: boolean;
  /** replace an existing key; the old key endorses the new one (<keyFile>.rotation.json) */
  rotate?: boolean;
}

export interface KeygenResult {
  keyFile: string;
  /** base64 SPKI */
  publicKey: string;
  fingerprint: string;
  /** with --rotate: the old key and its endorsement of the new one */
  rotatedFrom?: { publicKey: string; fingerprint: string; endorsement: string; rotationFile: string };
}

export async function runKeygen(config: MirrorKeyConfig, opts: KeygenOptions = {}): Promise<KeygenResult> {
  const keyFile = mirrorKeyFile(config);
  if (!opts.rotate) {
    const created = await createMirrorKey(keyFile, opts.force === true);
    return { keyFile, publicKey: created.publicKey, fingerprint: created.fingerprint };
  }
  const oldKey = await readMirrorKey(keyFile);
  if (oldKey === undefined) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `keygen --rotate: there is no key at ${keyFile} to rotate from`,
      {
        keyFile,
      },
    );
  }
  const old = describeKey(oldKey);
  // Endorsement first, then the new key replaces the old: a crash in between leaves the
  // old key in use and an endorsement of a key that never went live (ignored at load).
  const pair = generateSigningKeyPair();
  const step = await recordRotation(keyFile, oldKey, old.publicKey, pair.publicKey);
  await writeKeyFile(keyFile, pair.privateKeyPem, true);
  const fresh = describeKey(parsePrivateKey(pair.privateKeyPem));
  return {
    keyFile,
    publicKey: fresh.publicKey,
    fingerprint: fresh.fingerprint,
    rotatedFrom: {
      publicKey: old.publicKey,
      fingerprint: old.fingerprint,
      endorsement: step.endorsement,
      rotationFile: rotationFile(keyFile),
    },
  };
}

export function formatKeygen(result: KeygenResult): string {
  const lines = [
    `mirror signing key written to ${result.keyFile} (mode 0600)`,
    `  public key:  ${result.publicKey}`,
    `  fingerprint: ${result.fingerprint}`,
  ];
  if (result.rotatedFrom) {
    lines.push(
      `  rotated from ${result.rotatedFrom.fingerprint}; its endorsement of the new key is in ${result.rotatedFrom.rotationFile}`,
      '  restart the server so that it signs with the new key; clients that pinned the old key follow the endorsement',
    );
  }
  return `${lines.join('\n')}\n`;
}
