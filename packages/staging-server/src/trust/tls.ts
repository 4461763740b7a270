// listen.tls (CONTRACT §5): the certificate chain and key for HTTPS, read once at start.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { ErrorCodes, PatchbayError, type ServerConfig } from '@patchbay/core';
import { assertKeyModePrivate } from '@patchbay/core/tuf';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/**
 * TLS 1.2 with forward-secret AEAD suites only (ECDHE with AES-GCM or CHACHA20-POLY1305):
 * no CBC (LUCKY13), no static-RSA key exchange. The TLS 1.3 suites (all AEAD, all
 * forward-secret) are named explicitly so that this list never turns them off.
 */
export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** What the HTTPS listener is created with, besides cert and key (buildServer applies it). */
export const TLS_SERVER_OPTIONS: Pick<SecureContextOptions, 'minVersion' | 'ciphers'> &
  Pick<TlsOptions, 'honorCipherOrder'> = {
  minVersion: 'TLSv1.2',
  ciphers: TLS_CIPHERS,
  honorCipherOrder: true,
};

function cannotRead(path: string, key: 'cert' | 'key', err: unknown): PatchbayError {
  return new PatchbayError(
    ErrorCodes.CONFIG,
    `listen.tls.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    { key: `listen.tls.${key}`, path },
    { cause: err },
  );
}

function readTlsFile(path: string, key: 'cert' | 'key'): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw cannotRead(path, key, err);
  }
}

/**
 * The private key, refused when group or others may read it (as the signing keys are: a
 * readable key is a leaked key). The mode is checked on the open file, so the mode and
 * the bytes belong to the same file. On Windows, which has no mode bits, its ACL instead.
 */
function readTlsKey(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw cannotRead(path, 'key', err);
  }
  try {
    // the signing keys' check: mode 0600 on POSIX, the ACL on Windows
    assertKeyModePrivate(fstatSync(fd).mode, path, 'listen.tls.key: private key', ErrorCodes.CONFIG);
    return readFileSync(fd);
  } catch (err) {
    if (err instanceof PatchbayError) throw err;
    throw cannotRead(path, 'key', err);
  } finally {
    closeSync(fd);
  }
}

/**
 * The PEM files of listen.tls, or undefined for plain HTTP. Unreadable, or a key group- or
 * world-readable: PB_ERR_CONFIG (exit 2).
 */
export function readTlsFiles(listen: ServerConfig['listen']): TlsFiles | undefined {
  if (!listen.tls) return undefined;
  return { cert: readTlsFile(listen.tls.cert, 'cert'), key: readTlsKey(listen.tls.key) };
}
