// A keyv store adapter on better-sqlite3, with the table layout @keyv/sqlite uses
// (`keyv(key VARCHAR(255) PRIMARY KEY, value TEXT)`), so existing state.sqlite files
// read unchanged. Why not @keyv/sqlite: it drives the `sqlite3` addon, a second
// native SQLite build (~75 s of every clean `npm ci` on these machines, no prebuilt
// binaries reachable) beside the better-sqlite3 the report store already needs.
import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';
import { preparePrivateDatabase } from '@patchbay/core';
import type { KeyvStoreAdapter, StoredData } from 'keyv';

export interface KeyvBetterSqliteOptions {
  /** Path of the database file. */
  path: string;
  /** How long a statement waits for another connection's lock, in ms. */
  busyTimeoutMs?: number;
}

interface Row {
  key: string;
  value: string;
}

export class KeyvBetterSqlite extends EventEmitter implements KeyvStoreAdapter {
  readonly opts: KeyvBetterSqliteOptions;
  namespace?: string;
  private readonly db: Database.Database;
  private readonly select: Database.Statement<[string], Row>;
  private readonly upsert: Database.Statement<[string, string]>;
  private readonly remove: Database.Statement<[string]>;
  private readonly removeLike: Database.Statement<[string]>;

  constructor(options: KeyvBetterSqliteOptions) {
    super();
    this.opts = options;
    preparePrivateDatabase(options.path);
    this.db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
    this.db.exec('CREATE TABLE IF NOT EXISTS keyv(key VARCHAR(255) PRIMARY KEY, value TEXT)');
    this.select = this.db.prepare<[string], Row>('SELECT key, value FROM keyv WHERE key = ?');
    this.upsert = this.db.prepare<[string, string]>(
      'INSERT INTO keyv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    this.remove = this.db.prepare<[string]>('DELETE FROM keyv WHERE key = ?');
    this.removeLike = this.db.prepare<[string]>('DELETE FROM keyv WHERE key LIKE ?');
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.select.get(key)?.value as StoredData<Value> | undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    this.upsert.run(key, String(value));
  }

  async delete(key: string): Promise<boolean> {
    return this.remove.run(key).changes > 0;
  }

  async has(key: string): Promise<boolean> {
    return this.select.get(key) !== undefined;
  }

  async clear(): Promise<void> {
    this.removeLike.run(this.namespace ? `${this.namespace}:%` : '%');
  }

  async disconnect(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
