// The mirror's Ed25519 signing key on disk (CONTRACT §5): PKCS#8 PEM, mode 0600,
// created atomically, never overwritten by accident, never logged.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  encodePublicKey,
  ErrorCodes,
  generateSigningKeyPair,
  keyFingerprint,
  parsePrivateKey,
  PatchbayError,
  type ServerConfig,
} from '@patchbay/core';
import { assertKeyModePrivate, writeKeyFileAtomic } from '@patchbay/core/tuf';
import type { MirrorKeys } from '../mirror.js';
import { readRotation } from './rotation.js';

/** The loaded key: the private half stays inside this object and is never serialised. */
export interface CatalogSigner {
  readonly keyFile: string;
  readonly privateKey: KeyObject;
  /** what GET /v1/keys serves */
  readonly keys: MirrorKeys;
}

/** `signing` may be absent in a config not made by loadServerConfig (tests). */
export type MirrorKeyConfig = Pick<ServerConfig, 'dataDir'> & {
  signing?: Pick<ServerConfig['signing'], 'keyFile'>;
};

/** signing.keyFile, or <dataDir>/keys/mirror.key. */
export function mirrorKeyFile(config: MirrorKeyConfig): string {
  return config.signing?.keyFile ?? join(config.dataDir, 'keys', 'mirror.key');
}

/** Public key (base64 SPKI) and fingerprint of a private key. */
export function describeKey(privateKey: KeyObject): { publicKey: string; fingerprint: string } {
  const publicKey = encodePublicKey(createPublicKey(privateKey));
  return { publicKey, fingerprint: keyFingerprint(publicKey) };
}

/**
 * Write `pem` to `path` with mode 0600, atomically (core's writeKeyFileAtomic): link, failing
 * when `path` exists, or with `replace`, rename. Readers never see half a key.
 */
export async function writeKeyFile(path: string, pem: string, replace: boolean): Promise<void> {
  await writeKeyFileAtomic(path, pem, {
    mode: 0o600,
    replace,
    existsError: (keyFile) =>
      new PatchbayError(
        ErrorCodes.CONFIG,
        `signing key ${keyFile} already exists; refusing to overwrite it (use --force, or --rotate to rotate keys)`,
        { keyFile },
      ),
  });
}

/** A private key that others can read is a leaked key: refuse it (exit 2 at the CLI). */
export async function assertKeyFilePrivate(path: string): Promise<void> {
  // on Windows the mode means nothing and assertKeyModePrivate reads the ACL instead
  assertKeyModePrivate((await stat(path)).mode, path, 'signing key', ErrorCodes.CONFIG);
}

/** Read and parse the key file; undefined when it does not exist. */
export async function readMirrorKey(path: string): Promise<KeyObject | undefined> {
  let pem: string;
  try {
    await assertKeyFilePrivate(path);
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof PatchbayError) throw err;
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `signing key ${path} is unreadable: ${(err as Error).message}`,
      { keyFile: path },
      { cause: err },
    );
  }
  try {
    return parsePrivateKey(pem, `signing key ${path}`);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `signing key ${path} is not an Ed25519 PKCS#8 PEM private key; make a new one with 'patchbay-server keygen --force'`,
      { keyFile: path },
      { cause: err },
    );
  }
}

/** Make a new key at `path`; returns its public key and fingerprint. */
export async function createMirrorKey(
  path: string,
  replace = false,
): Promise<{ privateKey: KeyObject; publicKey: string; fingerprint: string }> {
  const pair = generateSigningKeyPair();
  await writeKeyFile(path, pair.privateKeyPem, replace);
  const privateKey = parsePrivateKey(pair.privateKeyPem);
  return { privateKey, publicKey: pair.publicKey, fingerprint: keyFingerprint(pair.publicKey) };
}

/**
 * The signer for serve/sync: the key file, made now when missing. A group- or
 * world-readable or unparsable key file is PB_ERR_CONFIG (the CLI exits 2).
 */
export async function loadMirrorSigner(
  config: MirrorKeyConfig,
  onCreated?: (info: { keyFile: string; fingerprint: string }) => void,
): Promise<CatalogSigner> {
  const keyFile = mirrorKeyFile(config);
  let privateKey = await readMirrorKey(keyFile);
  if (privateKey === undefined) {
    try {
      const created = await createMirrorKey(keyFile);
      privateKey = created.privateKey;
      onCreated?.({ keyFile, fingerprint: created.fingerprint });
    } catch (err) {
      // Another process made it between our read and our link: use theirs.
      if (!(err instanceof PatchbayError)) throw err;
      privateKey = await readMirrorKey(keyFile);
      if (privateKey === undefined) throw err;
    }
  }
  const { publicKey, fingerprint } = describeKey(privateKey);
  const rotation = await readRotation(keyFile, publicKey);
  const keys: MirrorKeys = { mirror: publicKey, fingerprint };
  if (rotation.length > 0) keys.rotation = rotation;
  return { keyFile, privateKey, keys };
}
