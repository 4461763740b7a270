// The admin token: auth.adminToken, or the first line of auth.adminTokenFile read once
// at start (so the secret need not sit in the config file), compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorCodes, PatchbayError, errorMessage, type ServerConfig } from '@patchbay/core';

/** An admin token shorter than this is refused at start: it could be guessed. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** The configured admin token, or null when neither key is set. Throws PB_ERR_CONFIG. */
export function resolveAdminToken(auth: ServerConfig['auth']): string | null {
  let token: string | null = null;
  let key = 'auth.adminToken';
  if (typeof auth?.adminToken === 'string') token = auth.adminToken;
  else if (typeof auth?.adminTokenFile === 'string') {
    key = 'auth.adminTokenFile';
    try {
      token = readFileSync(auth.adminTokenFile, 'utf8').split(/\r?\n/, 1)[0]?.trim() ?? '';
    } catch (err) {
      throw new PatchbayError(
        ErrorCodes.CONFIG,
        `auth.adminTokenFile ${auth.adminTokenFile} cannot be read: ${errorMessage(err)}`,
        { key },
      );
    }
  }
  if (token !== null && token.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `${key} must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (a long random string)`,
      { key },
    );
  }
  return token;
}

/**
 * Constant-time equality of two secrets of any length: both are hashed first, so
 * timingSafeEqual compares equal-length digests and the time says nothing about
 * where, or whether, the strings differ.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * The token of an `Authorization: Bearer <token>` header: null when there is no such
 * header, '' when there is one but it is not a usable Bearer token (refused as wrong).
 */
export function bearerToken(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return match?.[1] ?? '';
}

/** Whether the TCP peer is this machine (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
