// Ed25519 keys for TUF metadata (docs/tuf-repository.md "Keys"): node:crypto key pairs,
// private keys as PKCS#8 PEM files of mode 0600, public keys as SPKI PEM files, and the
// TUF key object and key id exactly as python-tuf computes them.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { canonicalize } from '@tufjs/canonical-json';
import { Key, Signature } from '@tufjs/models';
import { atomicTempPath, fsyncDir } from '../atomic-file.js';
import { ErrorCodes, PatchbayError, type ErrorCode } from '../errors.js';
import { assertOnlyAdminsCanRead } from '../windows-acl.js';

/** The TUF key object of an Ed25519 public key, as it appears in root and delegations. */
export interface TufKeyJson {
  keytype: 'ed25519';
  scheme: 'ed25519';
  keyval: { public: string };
}

/** An Ed25519 key pair. The private half never leaves the process except through writePrivateKeyFile. */
export interface Ed25519KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** DER prefix of an Ed25519 SPKI (RFC 8410); the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A new Ed25519 key pair. */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  return generateKeyPairSync('ed25519');
}

/** The public key of a private key. */
export function publicKeyOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}

/** `{ keytype, scheme, keyval: { public: <64 hex of the raw key> } }` for an Ed25519 key (of a private key: its public half). */
export function tufKeyJson(key: KeyObject): TufKeyJson {
  assertEd25519(key, 'public key');
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyval: { public: der.subarray(ED25519_SPKI_PREFIX.length).toString('hex') },
  };
}

/**
 * A key id: SHA-256 (hex) of the canonical JSON of the key object (any key type, unknown fields
 * included). A models Key (from any copy of @tufjs/models) is taken in its JSON form.
 */
export function computeKeyId(key: Key | TufKeyJson | Record<string, unknown>): string {
  const json = typeof (key as Partial<Key>).toJSON === 'function' ? (key as Key).toJSON() : key;
  return createHash('sha256').update(canonicalize(json)).digest('hex');
}

/** The @tufjs/models Key of an Ed25519 key (of a private key: its public half), with its key id. */
export function tufKey(key: KeyObject): Key {
  const json = tufKeyJson(key);
  return new Key({
    keyID: computeKeyId(json),
    keyType: json.keytype,
    scheme: json.scheme,
    keyVal: json.keyval,
  });
}

/** The key id of an Ed25519 public (or private) key. */
export function keyIdOf(key: KeyObject): string {
  return computeKeyId(tufKeyJson(key));
}

/** The public KeyObject of a TUF Ed25519 key (keyval.public as 64 hex), for comparisons and files. */
export function publicKeyFromTufKey(key: Key): KeyObject {
  const hex = key.keyVal.public ?? '';
  if (key.keyType !== 'ed25519' || !/^[0-9a-f]{64}$/.test(hex)) {
    throw new PatchbayError(
      ErrorCodes.KEY_FILE,
      `key ${key.keyID} is not an Ed25519 key with a 64-hex public value`,
      {
        keyId: key.keyID,
      },
    );
  }
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]),
    format: 'der',
    type: 'spki',
  });
}

/** A signer for `Metadata.sign(fn)`: signs the canonical bytes with this key, hex signature, its key id. */
export function createSigner(privateKey: KeyObject): (data: Buffer) => Signature {
  assertEd25519(privateKey, 'private key');
  const keyID = keyIdOf(privateKey);
  return (data) => new Signature({ keyID, sig: sign(null, data, privateKey).toString('hex') });
}

/**
 * Write a private key as PKCS#8 PEM with mode 0600: a temp file created 0600, fsync, then
 * link (refusing an existing file) or, with `replace`, rename; the directory is fsynced.
 */
export async function writePrivateKeyFile(
  path: string,
  privateKey: KeyObject,
  opts: { replace?: boolean } = {},
): Promise<void> {
  assertEd25519(privateKey, `private key for ${path}`);
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeKeyFileAtomic(path, pem, { mode: 0o600, replace: opts.replace ?? false });
}

/** Write a public key as SPKI PEM (mode 0644, or `mode`: a server's data is 0600), atomically. */
export async function writePublicKeyFile(
  path: string,
  publicKey: KeyObject,
  opts: { replace?: boolean; mode?: number } = {},
): Promise<void> {
  assertEd25519(publicKey, `public key for ${path}`);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeKeyFileAtomic(path, pem, { mode: opts.mode ?? 0o644, replace: opts.replace ?? false });
}

/** How writeKeyFileAtomic writes: the file's mode, and whether an existing file is replaced. */
export interface KeyFileWrite {
  mode: number;
  replace: boolean;
  /** the error for an existing file when not replacing (default PB_ERR_KEY_FILE naming it) */
  existsError?: (path: string) => PatchbayError;
}

/**
 * Write a key file so readers never see half a key: a temp file with `mode` from its creation
 * (its pid-stamped name tells a start-up after a crash that it is stale), fsync, then link
 * (refusing an existing file) or, with `replace`, rename; the directory is fsynced.
 */
export async function writeKeyFileAtomic(path: string, text: string, opts: KeyFileWrite): Promise<void> {
  const { mode, replace } = opts;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = atomicTempPath(path);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (replace) await rename(temp, path);
    else await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw (opts.existsError ?? keyFileExists)(path);
    }
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
  await fsyncDir(dir);
}

function keyFileExists(path: string): PatchbayError {
  return new PatchbayError(ErrorCodes.KEY_FILE, `key file ${path} already exists; refusing to overwrite it`, {
    keyFile: path,
  });
}

/**
 * A private key file's mode lets only its owner read it: else `code`, naming the file (`what`
 * says which key) and the `chmod 600` that fixes it. On Windows, which has no mode bits (Node
 * reports every writable file as 0666), its ACL instead: only SYSTEM, Administrators and the
 * account running patchbay may read it (icacls, as the client checks its token file).
 */
export function assertKeyModePrivate(
  mode: number,
  path: string,
  what: string,
  code: ErrorCode,
  platform: NodeJS.Platform = process.platform,
): void {
  if (platform === 'win32') {
    assertOnlyAdminsCanRead(path, what, { keyFile: path }, code);
    return;
  }
  if ((mode & 0o077) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(3, '0');
  throw new PatchbayError(
    code,
    `${what} ${path} is readable by group or others (mode ${octal}); fix it with: chmod 600 ${path}`,
    { keyFile: path, mode: octal },
  );
}

/**
 * Read a PKCS#8 PEM Ed25519 private key. Refused (PB_ERR_KEY_FILE) when group or others may
 * read it (the message names the file and says `chmod 600`; on Windows, whom its ACL lets read
 * it), when it is unreadable, or when it is not an Ed25519 private key.
 */
export async function readPrivateKeyFile(path: string): Promise<KeyObject> {
  let handle: FileHandle | undefined;
  let pem: string;
  try {
    handle = await open(path, 'r');
    // Checked on the open file, so the mode and the bytes belong to the same file.
    assertKeyModePrivate((await handle.stat()).mode, path, 'private key', ErrorCodes.KEY_FILE);
    pem = await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof PatchbayError) throw err;
    throw keyFileError(path, `private key ${path} is unreadable: ${(err as Error).message}`, err);
  } finally {
    await handle?.close();
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw keyFileError(path, `private key ${path} is not a PKCS#8 PEM private key`, err);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw keyFileError(path, `private key ${path} is a ${key.asymmetricKeyType} key, not Ed25519`);
  }
  return key;
}

/** Read an SPKI PEM Ed25519 public key (PB_ERR_KEY_FILE when unreadable or not Ed25519). */
export async function readPublicKeyFile(path: string): Promise<KeyObject> {
  let pem: string;
  try {
    const handle = await open(path, 'r');
    try {
      pem = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw keyFileError(path, `public key ${path} is unreadable: ${(err as Error).message}`, err);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw keyFileError(path, `public key ${path} is not an SPKI PEM public key`, err);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw keyFileError(path, `public key ${path} is a ${key.asymmetricKeyType} key, not Ed25519`);
  }
  return key;
}

function keyFileError(path: string, message: string, cause?: unknown): PatchbayError {
  return new PatchbayError(ErrorCodes.KEY_FILE, message, { keyFile: path }, cause ? { cause } : undefined);
}

function assertEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PatchbayError(
      ErrorCodes.KEY_FILE,
      `${what} is a ${key.asymmetricKeyType} key, not Ed25519`,
      {},
    );
  }
}
