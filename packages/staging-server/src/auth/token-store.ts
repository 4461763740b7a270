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
import { ensurePrivateDirSync, preparePrivateDatabase } from '@patchbay/core';

export const TOKEN_PREFIX = 'pbt_';
/** 32 random bytes in base64url: 43 characters after the prefix. */
const TOKEN_PATTERN = /^pbt_[A-Za-z0-9_-]{43}$/;
export const TOKEN_DB_FILE = 'auth.sqlite';

/**
 * The outcome of checking a bearer token against the host named in the URL:
 * ok — the host's own live token; unknown — matches no live token (wrong, replaced or
 * malformed); revoked — the host's token was withdrawn; other-host — a live token of
 * another host (a host can report only as itself).
 */
export type TokenCheck = 'ok' | 'unknown' | 'revoked' | 'other-host';

export interface EnrolledHost {
  hostId: string;
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
      'SELECT hostId, tokenHash, createdAt, revokedAt FROM host_tokens WHERE hostId = ?',
    );
    this.byHash = db.prepare(
      'SELECT hostId, tokenHash, createdAt, revokedAt FROM host_tokens WHERE tokenHash = ?',
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
    } catch (err) {
      db.close();
      throw err;
    }
    return new TokenStore(db);
  }

  /** Issues a new token for hostId, replacing (and so invalidating) any earlier one. */
  enroll(hostId: string, now: Date = new Date()): string {
    const token = generateToken();
    this.db
      .prepare(
        `INSERT INTO host_tokens (hostId, tokenHash, createdAt, revokedAt) VALUES (?, ?, ?, NULL)
         ON CONFLICT (hostId) DO UPDATE SET tokenHash = excluded.tokenHash,
           createdAt = excluded.createdAt, revokedAt = NULL`,
      )
      .run(hostId, hashToken(token), now.toISOString());
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
    return row ? { hostId: row.hostId, createdAt: row.createdAt, revokedAt: row.revokedAt } : null;
  }

  /** Checks a presented token against the host it claims to report for. */
  check(hostId: string, token: string): TokenCheck {
    if (!looksLikeToken(token)) return 'unknown';
    const presented = hashToken(token);
    const own = this.byHost.get(hostId);
    // Digests of equal length, compared in constant time: the response time says
    // nothing about how much of the stored hash a guess matched.
    if (own && own.tokenHash.length === presented.length && timingSafeEqual(own.tokenHash, presented)) {
      return own.revokedAt === null ? 'ok' : 'revoked';
    }
    // Not this host's: is it another host's live token? (403 rather than 401.) The index
    // lookup is on the hash of a 256-bit secret, which leaks nothing usable by timing.
    const other = this.byHash.get(presented);
    if (other && other.revokedAt === null) return 'other-host';
    return 'unknown';
  }

  close(): void {
    this.db.close();
  }
}
