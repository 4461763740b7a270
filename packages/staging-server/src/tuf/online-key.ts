// The staging server's online key (trust v2, docs/tuf-repository.md "Snapshot and timestamp on
// a staging server"): the Ed25519 key that signs this server's own TUF snapshot and timestamp.
// PKCS#8 PEM, mode 0600, made by `keygen` or at the first TUF sync, never logged. The root
// must list its key id for the snapshot and timestamp roles (`patchbay-publish`).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ErrorCodes,
  isPatchbayError,
  PatchbayError,
  PRIVATE_FILE_MODE,
  type ServerConfig,
} from '@patchbay/core';
import {
  createSigner,
  generateEd25519KeyPair,
  keyIdOf,
  publicKeyOf,
  readPrivateKeyFile,
  writePrivateKeyFile,
  writePublicKeyFile,
} from '@patchbay/core/tuf';

/** The loaded online key: the private half stays inside `sign`. */
export interface OnlineKey {
  readonly keyFile: string;
  /** TUF key id (SHA-256 of the key object's canonical JSON) */
  readonly keyId: string;
  /** SPKI PEM of the public key, what an admin hands to `patchbay-publish init --online-key FILE` */
  readonly publicKeyPem: string;
  /** a signer for `Metadata.sign` */
  readonly sign: ReturnType<typeof createSigner>;
}

export type OnlineKeyConfig = Pick<ServerConfig, 'dataDir'> & {
  signing?: Pick<ServerConfig['signing'], 'onlineKeyFile'>;
};

/** signing.onlineKeyFile, or <dataDir>/keys/online.key. */
export function onlineKeyFile(config: OnlineKeyConfig): string {
  return config.signing?.onlineKeyFile ?? join(config.dataDir, 'keys', 'online.key');
}

function describe(keyFile: string, privateKey: KeyObject): OnlineKey {
  return {
    keyFile,
    keyId: keyIdOf(privateKey),
    publicKeyPem: publicKeyOf(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
    sign: createSigner(privateKey),
  };
}

/**
 * Read the online key, or undefined when the file does not exist. A file that others may read,
 * that does not parse or is not Ed25519 is PB_ERR_CONFIG naming `signing.onlineKeyFile` (the
 * CLIs exit 2: the program refuses to start).
 */
export async function readOnlineKey(config: OnlineKeyConfig): Promise<OnlineKey | undefined> {
  const keyFile = onlineKeyFile(config);
  try {
    return describe(keyFile, await readPrivateKeyFile(keyFile));
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if (cause?.code === 'ENOENT') return undefined;
    if (!isPatchbayError(err)) throw err;
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `signing.onlineKeyFile: ${err.message}`,
      { key: 'signing.onlineKeyFile', keyFile },
      { cause: err },
    );
  }
}

/**
 * The online key, made now (0600, never overwriting a file another process just made) when
 * missing; its public key is written beside it as `<keyFile>.pub` (SPKI PEM) when that is
 * missing, the file an admin carries to `patchbay-publish`.
 */
export async function ensureOnlineKey(
  config: OnlineKeyConfig,
): Promise<{ key: OnlineKey; created: boolean }> {
  const keyFile = onlineKeyFile(config);
  let key = await readOnlineKey(config);
  let created = false;
  if (!key) {
    const { privateKey } = generateEd25519KeyPair();
    try {
      await writePrivateKeyFile(keyFile, privateKey);
      key = describe(keyFile, privateKey);
      created = true;
    } catch (err) {
      // Another process made it between our read and our link: use theirs.
      key = await readOnlineKey(config);
      if (!key) throw err;
    }
  }
  const publicFile = onlinePublicKeyFile(keyFile);
  const written = await readFile(publicFile, 'utf8').catch(() => undefined);
  if (written !== key.publicKeyPem) {
    await writePublicKeyFile(publicFile, createPublicKey(key.publicKeyPem), {
      replace: written !== undefined,
      mode: PRIVATE_FILE_MODE,
    });
  }
  return { key, created };
}

/** `<keyFile>.pub`: the online key's public half (SPKI PEM). */
export function onlinePublicKeyFile(keyFile: string): string {
  return `${keyFile}.pub`;
}

/** The online key's public facts: what `keygen --json` gives as `onlineKey`. */
export type OnlineKeySummary = Pick<OnlineKey, 'keyFile' | 'keyId' | 'publicKeyPem'> & {
  /** `<keyFile>.pub`, the SPKI PEM of `publicKeyPem` */
  publicKeyFile: string;
};

export function onlineKeySummary(key: OnlineKey): OnlineKeySummary {
  return {
    keyFile: key.keyFile,
    keyId: key.keyId,
    publicKeyPem: key.publicKeyPem,
    publicKeyFile: onlinePublicKeyFile(key.keyFile),
  };
}

/** The human lines keygen prints for the online key. */
export function formatOnlineKey(key: OnlineKeySummary, created: boolean): string {
  return [
    `online key (TUF snapshot and timestamp) ${created ? 'written to' : 'kept in'} ${key.keyFile} (mode 0600)`,
    `  key id:      ${key.keyId}`,
    `  public key:  ${key.publicKeyFile}`,
    `  give it to patchbay-publish (init --online-key ${key.publicKeyFile}, or a root rotation) so the root lists it:`,
    ...key.publicKeyPem
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
    '',
  ].join('\n');
}
