// The private keys a publisher holds in its keys directory: every `*.key` file in it
// (PKCS#8 PEM, mode 0600, refused otherwise), known by key id. Commands sign with the keys
// they find here and leave the rest of a threshold to `patchbay-publish sign`.
import type { KeyObject } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signature } from '@tufjs/models';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import {
  createSigner,
  generateEd25519KeyPair,
  keyIdOf,
  readPrivateKeyFile,
  readPublicKeyFile,
  writePrivateKeyFile,
  writePublicKeyFile,
} from '@patchbay/core/tuf';

export interface HeldKey {
  keyId: string;
  /** the .key file it came from */
  file: string;
  privateKey: KeyObject;
}

export class Keyring {
  readonly #keys = new Map<string, HeldKey>();

  add(held: HeldKey): void {
    this.#keys.set(held.keyId, held);
  }

  has(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  get(keyId: string): HeldKey | undefined {
    return this.#keys.get(keyId);
  }

  /** Signers by key id, for signWith. */
  signers(): Map<string, (data: Buffer) => Signature> {
    return new Map([...this.#keys].map(([id, held]) => [id, createSigner(held.privateKey)]));
  }
}

/** Every private key in `dir`. A missing directory is PB_ERR_USAGE; a bad key file is PB_ERR_KEY_FILE. */
export async function loadKeyring(dir: string): Promise<Keyring> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PatchbayError(ErrorCodes.USAGE, `--keys: directory ${dir} does not exist`, { dir });
    }
    throw err;
  }
  const ring = new Keyring();
  for (const name of names.filter((n) => n.endsWith('.key')).sort()) {
    const file = join(dir, name);
    const privateKey = await readPrivateKeyFile(file);
    ring.add({ keyId: keyIdOf(privateKey), file, privateKey });
  }
  return ring;
}

/** A new key pair written as `<dir>/<name>.key` (0600) and `<dir>/<name>.pub`; refuses to overwrite. */
export async function generateKeyFiles(dir: string, name: string): Promise<HeldKey & { publicFile: string }> {
  const { privateKey, publicKey } = generateEd25519KeyPair();
  const file = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub`);
  await writePrivateKeyFile(file, privateKey);
  await writePublicKeyFile(publicFile, publicKey);
  return { keyId: keyIdOf(privateKey), file, privateKey, publicFile };
}

/**
 * The key pair `<dir>/<name>.key` (mode 0600, PB_ERR_KEY_FILE otherwise) and `<dir>/<name>.pub`,
 * made earlier; refused (PB_ERR_KEY_FILE) when the public key is not the private key's.
 */
export async function readKeyFiles(dir: string, name: string): Promise<HeldKey & { publicFile: string }> {
  const file = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub`);
  const privateKey = await readPrivateKeyFile(file);
  const keyId = keyIdOf(privateKey);
  if (keyIdOf(await readPublicKeyFile(publicFile)) !== keyId) {
    throw new PatchbayError(ErrorCodes.KEY_FILE, `${publicFile} is not the public key of ${file}`, {
      keyFile: publicFile,
    });
  }
  return { keyId, file, privateKey, publicFile };
}
