// Ed25519 detached signatures (CONTRACT §5) with node:crypto: no library needed, and
// the same code signs on the mirror and verifies on the client.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  createHash,
  type KeyObject,
} from 'node:crypto';
import { ErrorCodes, PatchbayError } from './errors.js';

export interface SigningKeyPair {
  /** PKCS#8 PEM; keep it in a 0600 file */
  privateKeyPem: string;
  /** the public key as base64 of its SPKI DER (what /v1/keys serves) */
  publicKey: string;
}

/** A new Ed25519 key pair. */
export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: encodePublicKey(publicKey),
  };
}

/** base64 of the SPKI DER of a public key. */
export function encodePublicKey(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}

/**
 * A public key from text: PEM, base64 of the SPKI DER, or base64 of the raw 32 bytes.
 * Anything else, or a key that is not Ed25519, is PB_ERR_SIGNATURE naming `what`.
 */
export function parsePublicKey(text: string, what = 'public key'): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      key = createPublicKey(trimmed);
    } else {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) throw new Error('not base64');
      const der = Buffer.from(trimmed, 'base64');
      // 32 raw bytes: wrap them in the fixed Ed25519 SPKI prefix (RFC 8410).
      const spki =
        der.length === 32 ? Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), der]) : der;
      key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    }
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.SIGNATURE,
      `${what} is not a readable Ed25519 public key`,
      { what },
      {
        cause: err,
      },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PatchbayError(ErrorCodes.SIGNATURE, `${what} is a ${key.asymmetricKeyType} key, not Ed25519`, {
      what,
    });
  }
  return key;
}

export function parsePrivateKey(pem: string, what = 'private key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.SIGNATURE,
      `${what} is not a readable private key`,
      { what },
      { cause: err },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PatchbayError(ErrorCodes.SIGNATURE, `${what} is a ${key.asymmetricKeyType} key, not Ed25519`, {
      what,
    });
  }
  return key;
}

/** Detached signature over the exact bytes, base64. */
export function signDetached(data: Buffer, privateKey: KeyObject | string): string {
  const key = typeof privateKey === 'string' ? parsePrivateKey(privateKey) : privateKey;
  return sign(null, data, key).toString('base64');
}

/** True when `signature` (base64) is a valid Ed25519 signature of `data` by `publicKey`. */
export function verifyDetached(data: Buffer, signature: string, publicKey: KeyObject | string): boolean {
  const key = typeof publicKey === 'string' ? parsePublicKey(publicKey) : publicKey;
  const sig = Buffer.from(signature.trim(), 'base64');
  if (sig.length !== 64) return false;
  return verify(null, data, key, sig);
}

/** Short, stable name of a public key for messages and logs: sha256 of its SPKI DER, first 16 hex. */
export function keyFingerprint(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? parsePublicKey(publicKey) : publicKey;
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Key rotation (docs/security.md): the old key signs this statement naming the new key;
 * a client that pinned the old key accepts the new one when the endorsement verifies.
 */
export function rotationStatement(newPublicKey: string): Buffer {
  return Buffer.from(`patchbay-key-rotation/1\n${encodePublicKey(parsePublicKey(newPublicKey))}\n`, 'utf8');
}
