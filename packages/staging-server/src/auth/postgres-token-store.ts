// The token store in PostgreSQL (database.url): every replica reads the same table per
// request, so a token enrolled through any replica's CLI works on all of them at the next
// request and a revoked one is refused everywhere at once. Same rules as auth.sqlite: only
// the SHA-256 of a token is stored, one row per id, a re-enroll replaces the hash.
import type pg from 'pg';
import { isPatchbayError } from '@patchbay/core';
import { databaseError } from '../database/postgres-pool.js';
import { migratePostgres, type PostgresMigration } from '../database/postgres-migrations.js';
import { retryOnLostConnection } from '../database/postgres-reconnect.js';
import {
  checkToken,
  enrolledHost,
  generateToken,
  hashToken,
  kindConflict,
  type EnrolledHost,
  type StoredToken,
  type TokenCheck,
  type TokenKind,
  type TokenStore,
} from './token-store.js';

export const TOKEN_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    why: 'host and branch tokens: one row per id, the SHA-256 of its token, unique',
    sql: `CREATE TABLE host_tokens (
      host_id    text        PRIMARY KEY,
      kind       text        NOT NULL CHECK (kind IN ('host', 'branch')),
      token_hash bytea       NOT NULL UNIQUE,
      created_at timestamptz NOT NULL,
      revoked_at timestamptz
    )`,
  },
];

interface TokenRow {
  host_id: string;
  kind: TokenKind;
  token_hash: Buffer;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS = 'host_id, kind, token_hash, created_at, revoked_at';

function storedToken(row: TokenRow): StoredToken {
  return {
    hostId: row.host_id,
    kind: row.kind,
    tokenHash: row.token_hash,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

export interface PostgresTokenStoreOptions {
  /** what close() does with the pool: nothing (the caller's), or give it back (a shared pool's release) */
  releasePool?: () => Promise<void>;
}

export class PostgresTokenStore implements TokenStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresTokenStoreOptions,
  ) {}

  /** The store on `pool`, its table created or brought up to date first. */
  static async open(pool: pg.Pool, options: PostgresTokenStoreOptions): Promise<PostgresTokenStore> {
    try {
      await migratePostgres(pool, 'tokens', TOKEN_MIGRATIONS);
    } catch (err) {
      throw isPatchbayError(err) ? err : databaseError('cannot prepare the token table', err);
    }
    return new PostgresTokenStore(pool, options);
  }

  async enroll(hostId: string, now: Date = new Date(), kind: TokenKind = 'host'): Promise<string> {
    const token = generateToken();
    // One statement: the kind check and the replacement cannot interleave with another
    // enroll of the same id (the WHERE leaves a live token of the other kind untouched).
    const replaced = await this.write(
      'enroll a token',
      `INSERT INTO host_tokens (host_id, kind, token_hash, created_at, revoked_at)
       VALUES ($1, $2, $3, $4, NULL)
       ON CONFLICT (host_id) DO UPDATE SET kind = excluded.kind, token_hash = excluded.token_hash,
         created_at = excluded.created_at, revoked_at = NULL
       WHERE host_tokens.revoked_at IS NOT NULL OR host_tokens.kind = excluded.kind
       RETURNING host_id`,
      [hostId, kind, hashToken(token), now],
    );
    if (replaced.length === 1) return token;
    // Nothing replaced: the id holds a live token, and of the other kind (two kinds only).
    throw kindConflict(hostId, kind === 'host' ? 'branch' : 'host', kind);
  }

  async revoke(hostId: string, now: Date = new Date()): Promise<boolean> {
    const revoked = await this.write(
      'revoke a token',
      'UPDATE host_tokens SET revoked_at = $1 WHERE host_id = $2 AND revoked_at IS NULL RETURNING host_id',
      [now, hostId],
    );
    return revoked.length > 0;
  }

  async get(hostId: string): Promise<EnrolledHost | null> {
    const row = await this.byHost(hostId);
    return row ? enrolledHost(row) : null;
  }

  async liveHostTokenHolders(hostIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.read(
      'look tokens up',
      `SELECT ${COLUMNS} FROM host_tokens WHERE host_id = ANY($1::text[]) AND kind = 'host' AND revoked_at IS NULL`,
      [[...new Set(hostIds)]],
    );
    return new Set(rows.map((row) => row.host_id));
  }

  async check(hostId: string, token: string, kind: TokenKind = 'host'): Promise<TokenCheck> {
    return checkToken(
      { byHost: (id) => this.byHost(id), byHash: (hash) => this.byHash(hash) },
      hostId,
      token,
      kind,
    );
  }

  async list(): Promise<EnrolledHost[]> {
    // COLLATE "C": byte order, as SQLite's, whatever the database's locale.
    const rows = await this.read(
      'list tokens',
      `SELECT ${COLUMNS} FROM host_tokens ORDER BY host_id COLLATE "C"`,
    );
    return rows.map((row) => enrolledHost(storedToken(row)));
  }

  async close(): Promise<void> {
    await this.options.releasePool?.();
  }

  private async byHost(hostId: string): Promise<StoredToken | null> {
    const rows = await this.read('look a token up', `SELECT ${COLUMNS} FROM host_tokens WHERE host_id = $1`, [
      hostId,
    ]);
    return rows[0] ? storedToken(rows[0]) : null;
  }

  private async byHash(tokenHash: Buffer): Promise<StoredToken | null> {
    const rows = await this.read(
      'look a token up',
      `SELECT ${COLUMNS} FROM host_tokens WHERE token_hash = $1`,
      [tokenHash],
    );
    return rows[0] ? storedToken(rows[0]) : null;
  }

  /** Reads are retried on a connection a PostgreSQL restart cut (postgres-reconnect.ts). */
  private read(what: string, sql: string, values: unknown[] = []): Promise<TokenRow[]> {
    return this.rows(what, () =>
      retryOnLostConnection(this.pool, () => this.pool.query<TokenRow>(sql, values)),
    );
  }

  /** Writes are not: a revoke that committed before its answer was lost would then say "no token". */
  private write(what: string, sql: string, values: unknown[]): Promise<TokenRow[]> {
    return this.rows(what, () => this.pool.query<TokenRow>(sql, values));
  }

  /** A statement's rows, or PB_ERR_DATABASE saying what could not be done. */
  private async rows(what: string, statement: () => Promise<pg.QueryResult<TokenRow>>): Promise<TokenRow[]> {
    try {
      return (await statement()).rows;
    } catch (err) {
      throw databaseError(`cannot ${what} in PostgreSQL`, err);
    }
  }
}
