// Per-host report tokens (CONTRACT §5): what every token store does, whichever database holds
// it (sqlite-token-store.ts: <dataDir>/auth.sqlite; postgres-token-store.ts: database.url).
// Only a hash of each token is stored, so a copy of the database does not let anyone report
// as a host.
//
// enroll/revoke run as separate processes while `serve` runs: the server looks a token up per
// request (a primary-key lookup, never cached), so a change takes effect at once — with
// PostgreSQL, on every replica.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, PatchbayError } from '@patchbay/core';

export const TOKEN_PREFIX = 'pbt_';
/** 32 random bytes in base64url: 43 characters after the prefix. */
const TOKEN_PATTERN = /^pbt_[A-Za-z0-9_-]{43}$/;

/**
 * What a token may send: a host's own report, or a branch staging server's rollup of its
 * hosts (tiered mirrors). Distinct credentials: a host token on the rollup route could
 * otherwise store reports for any host it names.
 */
export type TokenKind = 'host' | 'branch';

/**
 * The outcome of checking a bearer token against the id named in the URL and the kind the
 * route needs: ok — the id's own live token of that kind; unknown — matches no live token
 * (wrong, replaced or malformed); revoked — the id's token was withdrawn; other-host — a
 * live token of another id (a host can report only as itself); wrong-kind — a live token
 * of the other kind (a host token on the rollup route, a branch token on a report).
 */
export type TokenCheck = 'ok' | 'unknown' | 'revoked' | 'other-host' | 'wrong-kind';

export interface EnrolledHost {
  hostId: string;
  kind: TokenKind;
  createdAt: string;
  revokedAt: string | null;
}

/** A token store's row: an enrolled id and the hash of its token. */
export interface StoredToken extends EnrolledHost {
  tokenHash: Buffer;
}

export interface TokenStore {
  /**
   * Issues a new token for hostId (a host, or with kind 'branch' a branch's rollup),
   * replacing (and so invalidating) any earlier one of the same kind. Rejects with
   * PB_ERR_USAGE when the id holds a live token of the other kind: one name is never both.
   */
  enroll(hostId: string, now?: Date, kind?: TokenKind): Promise<string>;
  /** Withdraws hostId's token; false when the host had no live token. */
  revoke(hostId: string, now?: Date): Promise<boolean>;
  get(hostId: string): Promise<EnrolledHost | null>;
  /** Which of hostIds hold a live host token, in one lookup (a rollup may not speak for them). */
  liveHostTokenHolders(hostIds: readonly string[]): Promise<Set<string>>;
  /** Checks a presented token against the id it claims to send for and the kind the route needs. */
  check(hostId: string, token: string, kind?: TokenKind): Promise<TokenCheck>;
  /** Every enrolled id, live or revoked, by hostId. */
  list(): Promise<EnrolledHost[]>;
  close(): Promise<void>;
}

/**
 * SHA-256 rather than a slow KDF (scrypt, argon2): a KDF protects low-entropy secrets
 * such as passwords against guessing; a token is 256 bits from the CSPRNG, so a
 * preimage search on its SHA-256 is already infeasible, and a fast hash keeps the
 * per-request check cheap.
 */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function looksLikeToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** The row as the store's callers see it: never the hash. */
export function enrolledHost(row: StoredToken): EnrolledHost {
  return { hostId: row.hostId, kind: row.kind, createdAt: row.createdAt, revokedAt: row.revokedAt };
}

/** PB_ERR_USAGE for enrolling, as `requested`, an id that holds a live token of another kind. */
export function kindConflict(hostId: string, enrolled: TokenKind, requested: TokenKind): PatchbayError {
  return new PatchbayError(
    ErrorCodes.USAGE,
    `"${hostId}" is enrolled as a ${enrolled}, not a ${requested}: ` +
      `revoke it first (patchbay-server revoke ${hostId}) to enroll it as a ${requested}`,
    { hostId, enrolled, requested },
  );
}

/** The two lookups a check needs, from whichever database holds the tokens. */
export interface TokenLookups {
  byHost(hostId: string): Promise<StoredToken | null>;
  byHash(tokenHash: Buffer): Promise<StoredToken | null>;
}

/** TokenStore.check over a store's lookups: the same verdicts on every backend. */
export async function checkToken(
  lookups: TokenLookups,
  hostId: string,
  token: string,
  kind: TokenKind,
): Promise<TokenCheck> {
  if (!looksLikeToken(token)) return 'unknown';
  const presented = hashToken(token);
  const own = await lookups.byHost(hostId);
  // Digests of equal length, compared in constant time: the response time says
  // nothing about how much of the stored hash a guess matched.
  if (own && own.tokenHash.length === presented.length && timingSafeEqual(own.tokenHash, presented)) {
    if (own.revokedAt !== null) return 'revoked';
    return own.kind === kind ? 'ok' : 'wrong-kind';
  }
  // Not this id's: is it another live token? (403 rather than 401.) The index
  // lookup is on the hash of a 256-bit secret, which leaks nothing usable by timing.
  const other = await lookups.byHash(presented);
  if (other && other.revokedAt === null) return other.kind === kind ? 'other-host' : 'wrong-kind';
  return 'unknown';
}
