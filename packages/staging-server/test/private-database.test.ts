// SQLite's files under umask 022 (issue 14): core's preparePrivateDatabase makes the database
// 0600 before better-sqlite3 opens it, so SQLite gives its -wal/-shm files that mode too; a
// database an earlier version made under the umask is narrowed, never truncated.
import { existsSync } from 'node:fs';
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import {
  ensurePrivateDirSync,
  preparePrivateDatabase,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
} from '@patchbay/core';

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

t.test('under umask 022', { skip: process.platform === 'win32' ? 'no POSIX modes' : false }, async (t) => {
  const previous = process.umask(0o022);
  t.teardown(() => void process.umask(previous));
  const dir = t.testdir();

  await t.test('a SQLite database and its -wal/-shm files are 0600', async (t) => {
    const file = join(dir, 'db', 'reports.sqlite');
    ensurePrivateDirSync(join(dir, 'db'));
    preparePrivateDatabase(file);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) t.equal(await modeOf(f), PRIVATE_FILE_MODE, f);
    t.equal(await modeOf(join(dir, 'db')), PRIVATE_DIR_MODE);
    db.close();

    // one made by an earlier version under the umask is narrowed, not truncated
    const old = join(dir, 'db', 'old.sqlite');
    const before = new Database(old);
    before.exec('CREATE TABLE t (x); INSERT INTO t VALUES (42)');
    before.close();
    await chmod(old, 0o644);
    preparePrivateDatabase(old);
    t.equal(await modeOf(old), PRIVATE_FILE_MODE, 'narrowed');
    const after = new Database(old);
    t.same(after.prepare('SELECT x FROM t').get(), { x: 42 }, 'content kept');
    after.close();
    preparePrivateDatabase(':memory:');
    preparePrivateDatabase(join(dir, 'no', 'such', 'dir', 'x.sqlite'));
    t.notOk(existsSync(join(dir, 'no')), "a missing directory is left for SQLite's open to report");
  });
});
