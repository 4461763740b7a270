// Opening reports.sqlite: a private file, the pragmas every connection needs, the schema
// brought up to date (migrations.ts).
import Database from 'better-sqlite3';
import { preparePrivateDatabase } from '@patchbay/core';
import { migrate } from './migrations.js';

export function openReportsDatabase(file: string): Database.Database {
  preparePrivateDatabase(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // WAL + NORMAL: a commit survives a process crash; an OS crash may lose the last
  // commits, which clients resend (their outbox keeps a report until it is accepted).
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, file);
  return db;
}

/** Closes `db`, the planner's statistics refreshed first. */
export function closeReportsDatabase(db: Database.Database): void {
  // Refresh the planner's statistics so that combined filters (host + type) pick
  // the most selective index; cheap, and a no-op when nothing changed much.
  db.pragma('optimize');
  db.close();
}
