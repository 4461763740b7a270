// Private modes (issue 14) under the usual umask 022, with real files: directories made 0700,
// files 0600, and the publisher's outputs still following the umask. SQLite databases:
// staging-server/test/private-database.test.ts (better-sqlite3 is the server's dependency).
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { writeFileAtomic } from '../src/atomic-file.js';
import { ContentStore } from '../src/content-store.js';
import {
  ensurePrivateDir,
  narrowFilesToPrivate,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
} from '../src/private-files.js';

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

t.test('under umask 022', { skip: process.platform === 'win32' ? 'no POSIX modes' : false }, async (t) => {
  const previous = process.umask(0o022);
  t.teardown(() => void process.umask(previous));
  const dir = t.testdir();

  await t.test('ensurePrivateDir makes every missing directory 0700', async (t) => {
    await ensurePrivateDir(join(dir, 'a', 'b', 'c'));
    for (const d of ['a', 'a/b', 'a/b/c']) t.equal(await modeOf(join(dir, d)), PRIVATE_DIR_MODE, d);
  });

  await t.test('writeFileAtomic: 0600 in new 0700 directories; "umask" for published files', async (t) => {
    await writeFileAtomic(join(dir, 'data', 'state', 'x.json'), '{}');
    t.equal(await modeOf(join(dir, 'data', 'state', 'x.json')), PRIVATE_FILE_MODE);
    t.equal(await modeOf(join(dir, 'data', 'state')), PRIVATE_DIR_MODE);
    t.equal(await modeOf(join(dir, 'data')), PRIVATE_DIR_MODE);
    await writeFileAtomic(join(dir, 'feed', 'feed.json'), '{}', { mode: 'umask' });
    t.equal(await modeOf(join(dir, 'feed', 'feed.json')), 0o644, 'a feed is published as the umask says');
    t.equal(await modeOf(join(dir, 'feed')), 0o755);
  });

  await t.test('blobs committed to a content store are 0600 whatever made the temp', async (t) => {
    const store = new ContentStore(join(dir, 'store'));
    await mkdir(store.tmpDir, { recursive: true });
    const temp = store.newTempPath();
    await writeFile(temp, 'blob', { mode: 0o644 });
    const hex = '1e1b7ab7b9b6f6d8ee4f0c3c9c85cbc6e6d0e5e41d0d0b5da30a8cf5a5b6d8c2';
    const target = await store.commit(temp, hex);
    t.equal(await modeOf(target), PRIVATE_FILE_MODE);
    t.equal(await modeOf(join(target, '..')), PRIVATE_DIR_MODE, 'its shard directory');
  });

  await t.test('narrowFilesToPrivate: what a library wrote under the umask', async (t) => {
    const d = join(dir, 'tuf');
    await mkdir(d);
    await writeFile(join(d, 'timestamp.json'), '{}');
    t.equal(await modeOf(join(d, 'timestamp.json')), 0o644);
    await narrowFilesToPrivate(d);
    t.equal(await modeOf(join(d, 'timestamp.json')), PRIVATE_FILE_MODE);
    await narrowFilesToPrivate(join(dir, 'missing'));
  });
});
