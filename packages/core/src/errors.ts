import { redactCredentials } from './redact.js';

/**
 * Every error patchbay raises on purpose is a PatchbayError with a stable code
 * (as fastify does with FST_ERR_*), so callers branch on `err.code` and log lines
 * say exactly what happened. `context` carries the facts (path, url, patch id…).
 */
export const ErrorCodes = {
  /** feed.json (or a catalog) is not valid JSON */
  FEED_NOT_JSON: 'PB_ERR_FEED_NOT_JSON',
  /** feed/catalog fails the JSON Schema; message names the JSON path and rule */
  FEED_SCHEMA: 'PB_ERR_FEED_SCHEMA',
  /** a client report fails its schema; message names the field */
  REPORT_INVALID: 'PB_ERR_REPORT_INVALID',
  /** semantic feed error: duplicate patch id, duplicate file name, … */
  FEED_INVALID: 'PB_ERR_FEED_INVALID',
  /** feed sequence lower than the last accepted, or equal with other bytes */
  FEED_ROLLBACK: 'PB_ERR_FEED_ROLLBACK',
  /** downloaded bytes do not hash to the expected SHA-256 */
  DIGEST_MISMATCH: 'PB_ERR_DIGEST_MISMATCH',
  /** downloaded byte count differs from the expected size (or exceeds it) */
  SIZE_MISMATCH: 'PB_ERR_SIZE_MISMATCH',
  /** a blob a catalog names is not in the store */
  BLOB_MISSING: 'PB_ERR_BLOB_MISSING',
  /** a signature or key is missing, unreadable, or does not verify (context.reason) */
  SIGNATURE: 'PB_ERR_SIGNATURE',
  /** a catalog is older than one already accepted (rollback) or past its expiresAt (freeze) */
  CATALOG_STALE: 'PB_ERR_CATALOG_STALE',
  /** a request lacks a valid token (401) or uses another host's (403) */
  UNAUTHORIZED: 'PB_ERR_UNAUTHORIZED',
  FORBIDDEN: 'PB_ERR_FORBIDDEN',
  /** a string that must be 64 lowercase hex chars is not */
  BAD_DIGEST: 'PB_ERR_BAD_DIGEST',
  /** a file name that is not a plain name (/, \, .., NUL, drive letter) */
  UNSAFE_NAME: 'PB_ERR_UNSAFE_NAME',
  /** HTTP answered with a status we do not accept (context.status, context.url) */
  HTTP_STATUS: 'PB_ERR_HTTP_STATUS',
  /** connection refused / reset / DNS / timeout after the retries were spent */
  NETWORK: 'PB_ERR_NETWORK',
  /** a URL scheme we do not support */
  UNSUPPORTED_URL: 'PB_ERR_UNSUPPORTED_URL',
  /** a URL (or a redirect to it) outside what may be fetched: another origin, a file outside the feed directory (context.reason) */
  URL_REFUSED: 'PB_ERR_URL_REFUSED',
  /** config file: unknown key, wrong type, unreadable file (exit 2) */
  CONFIG: 'PB_ERR_CONFIG',
  /** command line: unknown flag/command, missing argument (exit 2) */
  USAGE: 'PB_ERR_USAGE',
  /** a placeholder in an install/uninstall argv that cannot be expanded */
  PLACEHOLDER: 'PB_ERR_PLACEHOLDER',
  /** an operation was aborted (SIGTERM, AbortSignal) */
  ABORTED: 'PB_ERR_ABORTED',
  /** a sync is already running */
  SYNC_IN_PROGRESS: 'PB_ERR_SYNC_IN_PROGRESS',
  /** unknown patch id on a command line */
  UNKNOWN_PATCH: 'PB_ERR_UNKNOWN_PATCH',
  /** a product in the client config that the catalog does not know */
  UNKNOWN_PRODUCT: 'PB_ERR_UNKNOWN_PRODUCT',
  /** no staging server answered and no cached catalog exists */
  NO_CATALOG: 'PB_ERR_NO_CATALOG',
  /** uninstall refused: dependants, or no uninstaller */
  UNINSTALL_REFUSED: 'PB_ERR_UNINSTALL_REFUSED',
  /** an install/uninstall command failed (exit code, timeout, spawn error) */
  COMMAND_FAILED: 'PB_ERR_COMMAND_FAILED',
  /** another patchbay process holds the lock on this data directory */
  LOCKED: 'PB_ERR_LOCKED',
  /** not enough free disk space (checked before a transfer, or ENOSPC/EDQUOT during one) */
  DISK_FULL: 'PB_ERR_DISK_FULL',
  /** tiered mirrors: a mirror found itself in its upstream's chain */
  MIRROR_LOOP: 'PB_ERR_MIRROR_LOOP',
  /** import: an incremental export whose base was never imported, or a bundle that fails a check */
  IMPORT_REFUSED: 'PB_ERR_IMPORT_REFUSED',
  /** a TUF repository fails verification (context.problems lists every reason) */
  TUF_VERIFY: 'PB_ERR_TUF_VERIFY',
  /** a TUF repository cannot be read or written as asked (missing role, version that does not grow, unknown key) */
  TUF_REPOSITORY: 'PB_ERR_TUF_REPOSITORY',
  /** a key file is missing, unreadable, not Ed25519, or readable by group/others (chmod 600) */
  KEY_FILE: 'PB_ERR_KEY_FILE',
  /** PostgreSQL unreachable, refused the login, or holds a newer schema than this release knows. */
  DATABASE: 'PB_ERR_DATABASE',
  /** a Windows registry read failed: reg.exe missing, refused (access denied), timed out or unreadable (context.key) */
  REGISTRY: 'PB_ERR_REGISTRY',
  /** a path to hash or read is a FIFO, device or directory, not a regular file (context.path) */
  NOT_A_FILE: 'PB_ERR_NOT_A_FILE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class PatchbayError extends Error {
  readonly code: ErrorCode;
  readonly context: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    context: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    // A message names URLs (the feed, a file): never with their user:password.
    super(redactCredentials(message), options);
    this.name = 'PatchbayError';
    this.code = code;
    this.context = context;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.context };
  }
}

export function isPatchbayError(err: unknown, code?: ErrorCode): err is PatchbayError {
  return err instanceof PatchbayError && (code === undefined || err.code === code);
}

/** A short, human message for any thrown value. */
export function errorMessage(err: unknown): string {
  // Messages of other libraries (undici, tuf-js) may quote a URL with its user:password.
  return redactCredentials(err instanceof Error ? err.message : String(err));
}
