// The token store in <dataDir>/auth.sqlite: one server (no database.url).
//
// enroll/revoke run as separate processes while `serve` runs on the same data directory:
// SQLite in WAL mode lets the CLI write while the server reads, without taking the mirror's
// data-dir lock.
import path from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDirSync, preparePrivateDatabase } from '@patchbay/core';
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

export const TOKEN_DB_FILE = 'auth.sqlite';

const COLUMNS = 'hostId, kind, tokenHash, createdAt, revokedAt';

export class SqliteTokenStore implements TokenStore {
  private readonly db: Database.Database;
  private readonly byHost: Database.Statement<[string], StoredToken>;
  private readonly byHash: Database.Statement<[Buffer], StoredToken>;

  private constructor(db: Database.Database) {
    this.db = db;
    this.byHost = db.prepare(`SELECT ${COLUMNS} FROM host_tokens WHERE hostId = ?`);
    this.byHash = db.prepare(`SELECT ${COLUMNS} FROM host_tokens WHERE tokenHash = ?`);
  }

  /** Opens (and creates) <dataDir>/auth.sqlite. */
  static open(dataDir: string): SqliteTokenStore {
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
    return new SqliteTokenStore(db);
  }

  async enroll(hostId: string, now: Date = new Date(), kind: TokenKind = 'host'): Promise<string> {
    const existing = this.byHost.get(hostId);
    if (existing && existing.revokedAt === null && existing.kind !== kind)
      throw kindConflict(hostId, existing.kind, kind);
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

  async revoke(hostId: string, now: Date = new Date()): Promise<boolean> {
    const result = this.db
      .prepare('UPDATE host_tokens SET revokedAt = ? WHERE hostId = ? AND revokedAt IS NULL')
      .run(now.toISOString(), hostId);
    return result.changes > 0;
  }

  async get(hostId: string): Promise<EnrolledHost | null> {
    const row = this.byHost.get(hostId);
    return row ? enrolledHost(row) : null;
  }

  async liveHostTokenHolders(hostIds: readonly string[]): Promise<Set<string>> {
    const rows = this.db
      .prepare<[string], { hostId: string }>(
        `SELECT hostId FROM host_tokens WHERE hostId IN (SELECT value FROM json_each(?))
           AND kind = 'host' AND revokedAt IS NULL`,
      )
      .all(JSON.stringify([...new Set(hostIds)]));
    return new Set(rows.map((row) => row.hostId));
  }

  async check(hostId: string, token: string, kind: TokenKind = 'host'): Promise<TokenCheck> {
    return checkToken(
      {
        byHost: async (id) => this.byHost.get(id) ?? null,
        byHash: async (hash) => this.byHash.get(hash) ?? null,
      },
      hostId,
      token,
      kind,
    );
  }

  async list(): Promise<EnrolledHost[]> {
    return this.db
      .prepare<[], StoredToken>(`SELECT ${COLUMNS} FROM host_tokens ORDER BY hostId`)
      .all()
      .map(enrolledHost);
  }

  async close(): Promise<void> {
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
