// Per-host report tokens (CONTRACT §5) in <dataDir>/auth.sqlite. Only a hash of each
// token is stored, so a copy of the data directory does not let anyone report as a host.
//
// enroll/revoke run as separate processes while `serve` runs on the same data directory:
// SQLite in WAL mode lets the CLI write while the server reads, and the server looks a
// token up per request (a primary-key lookup), so a change takes effect at once without
// taking the mirror's data-dir lock.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCodes, PatchbayError, ensurePrivateDirSync, preparePrivateDatabase } from '@patchbay/core';

export const TOKEN_PREFIX = 'pbt_';
/** 32 random bytes in base64url: 43 characters after the prefix. */
const TOKEN_PATTERN = /^pbt_[A-Za-z0-9_-]{43}$/;
export const TOKEN_DB_FILE = 'auth.sqlite';

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

interface TokenRow {
  hostId: string;
  kind: TokenKind;
  tokenHash: Buffer;
  createdAt: string;
  revokedAt: string | null;
}

export class TokenStore {
  private readonly db: Database.Database;
  private readonly byHost: Database.Statement<[string], TokenRow>;
  private readonly byHash: Database.Statement<[Buffer], TokenRow>;

  private constructor(db: Database.Database) {
    this.db = db;
    this.byHost = db.prepare(
      'SELECT hostId, kind, tokenHash, createdAt, revokedAt FROM host_tokens WHERE hostId = ?',
    );
    this.byHash = db.prepare(
      'SELECT hostId, kind, tokenHash, createdAt, revokedAt FROM host_tokens WHERE tokenHash = ?',
    );
  }

  /** Opens (and creates) <dataDir>/auth.sqlite. */
  static open(dataDir: string): TokenStore {
    ensurePrivateDirSync(dataDir);
    const file = path.join(dataDir, TOKEN_DB_FILE);
    preparePrivateDatabase(file);
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      // The CLI and the server may write at the same moment: wait rather than fail.
      db.pragma('busy_timeout = 5000');
      db.exec(`CREATE TABLE IF NOT EXISTS host_tokens (
        hostId    TEXT PRIMARY KEY,
        tokenHash BLOB NOT NULL,
        createdAt TEXT NOT NULL,
        revokedAt TEXT
      );
      CREATE UNIQUE INDEX IF NOT EXISTS host_tokens_hash ON host_tokens (tokenHash);`);
      migrateTokenKinds(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return new TokenStore(db);
  }

  /**
   * Issues a new token for hostId (a host, or with kind 'branch' a branch's rollup),
   * replacing (and so invalidating) any earlier one of the same kind. Throws PB_ERR_USAGE
   * when the id holds a live token of the other kind: one name is never both.
   */
  enroll(hostId: string, now: Date = new Date(), kind: TokenKind = 'host'): string {
    const existing = this.byHost.get(hostId);
    if (existing && existing.revokedAt === null && existing.kind !== kind)
      throw new PatchbayError(
        ErrorCodes.USAGE,
        `"${hostId}" is enrolled as a ${existing.kind}, not a ${kind}: ` +
          `revoke it first (patchbay-server revoke ${hostId}) to enroll it as a ${kind}`,
        { hostId, enrolled: existing.kind, requested: kind },
      );
    const token = generateToken();
    this.db
      .prepare(
        `INSERT INTO host_tokens (hostId, kind, tokenHash, createdAt, revokedAt) VALUES (?, ?, ?, ?, NULL)
         ON CONFLICT (hostId) DO UPDATE SET kind = excluded.kind, tokenHash = excluded.tokenHash,
           createdAt = excluded.createdAt, revokedAt = NULL`,
      )
      .run(hostId, kind, hashToken(token), now.toISOString());
    return token;
  }

  /** Withdraws hostId's token; false when the host had no live token. */
  revoke(hostId: string, now: Date = new Date()): boolean {
    const result = this.db
      .prepare('UPDATE host_tokens SET revokedAt = ? WHERE hostId = ? AND revokedAt IS NULL')
      .run(now.toISOString(), hostId);
    return result.changes > 0;
  }

  get(hostId: string): EnrolledHost | null {
    const row = this.byHost.get(hostId);
    return row
      ? { hostId: row.hostId, kind: row.kind, createdAt: row.createdAt, revokedAt: row.revokedAt }
      : null;
  }

  /** Checks a presented token against the id it claims to send for and the kind the route needs. */
  check(hostId: string, token: string, kind: TokenKind = 'host'): TokenCheck {
    if (!looksLikeToken(token)) return 'unknown';
    const presented = hashToken(token);
    const own = this.byHost.get(hostId);
    // Digests of equal length, compared in constant time: the response time says
    // nothing about how much of the stored hash a guess matched.
    if (own && own.tokenHash.length === presented.length && timingSafeEqual(own.tokenHash, presented)) {
      if (own.revokedAt !== null) return 'revoked';
      return own.kind === kind ? 'ok' : 'wrong-kind';
    }
    // Not this id's: is it another live token? (403 rather than 401.) The index
    // lookup is on the hash of a 256-bit secret, which leaks nothing usable by timing.
    const other = this.byHash.get(presented);
    if (other && other.revokedAt === null) return other.kind === kind ? 'other-host' : 'wrong-kind';
    return 'unknown';
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Schema version 2 (PRAGMA user_version): the token kind. Tokens enrolled before it were
 * all host tokens, branches included; a branch is enrolled again with `enroll --branch`
 * (its rollup is refused with 403 until then, naming the command).
 */
function migrateTokenKinds(db: Database.Database): void {
  if ((db.pragma('user_version', { simple: true }) as number) >= 2) return;
  // IMMEDIATE: the CLI and the server may open an old file at once; one migrates, the other waits.
  const migrateOnce = db.transaction(() => {
    const columns = db.prepare('PRAGMA table_info(host_tokens)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'kind'))
      db.exec(
        "ALTER TABLE host_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'host' CHECK (kind IN ('host', 'branch'))",
      );
    db.pragma('user_version = 2');
  });
  migrateOnce.immediate();
}
