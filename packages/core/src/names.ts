import { ErrorCodes, PatchbayError } from './errors.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True for a lowercase 64-hex SHA-256 digest. */
export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/** Throws PB_ERR_BAD_DIGEST unless `value` is a lowercase 64-hex digest. */
export function assertSha256Hex(value: string, what = 'digest'): string {
  if (!isSha256Hex(value)) {
    throw new PatchbayError(ErrorCodes.BAD_DIGEST, `${what} must be 64 lowercase hex characters`, { value });
  }
  return value;
}

/**
 * A plain file name as the contract requires: no `/`, `\`, `..`, NUL, drive
 * letter, and not `.` / empty. Used for feed file names, which later become
 * paths under an install cache, so this is the line that stops traversal.
 */
export function isSafeFileName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (name === '.' || name === '..') return false;
  if (name.includes('/') || name.includes('\\') || name.includes('\0')) return false;
  if (name.includes('..')) return false;
  if (/^[A-Za-z]:/.test(name)) return false;
  return true;
}

export function assertSafeFileName(name: string, what = 'file name'): string {
  if (!isSafeFileName(name)) {
    throw new PatchbayError(
      ErrorCodes.UNSAFE_NAME,
      `${what} "${name}" is not a plain file name (no /, \\, .., NUL or drive letter)`,
      { name },
    );
  }
  return name;
}
