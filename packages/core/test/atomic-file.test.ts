import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { fsyncDir, readFileIfExists, readJsonFile, writeFileAtomic } from '../src/atomic-file.js';

t.test('writes new files, replaces old ones, creates parents, leaves no temp files', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'a', 'b', 'state.json');
  await writeFileAtomic(path, '{"v":1}');
  t.same(await readJsonFile(path), { v: 1 });
  await writeFileAtomic(path, Buffer.from('{"v":2}'));
  t.same(await readJsonFile(path), { v: 2 });
  t.same(await readdir(join(dir, 'a', 'b')), ['state.json']);
});

t.test('mode applies exactly, whatever the umask', { skip: process.platform === 'win32' }, async (t) => {
  const path = join(t.testdir(), 'key');
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(path, 'secret', { mode: 0o640 });
  } finally {
    process.umask(old);
  }
  t.equal((await stat(path)).mode & 0o777, 0o640);
});

t.test('a failed write leaves the old content and no temp file', async (t) => {
  const dir = t.testdir({ blocker: 'i am a file', target: { 'keep.txt': 'old' } });

  // parent is a file: nothing can be created
  await t.rejects(writeFileAtomic(join(dir, 'blocker', 'x.json'), 'new'));
  t.equal(await readFile(join(dir, 'blocker'), 'utf8'), 'i am a file');

  // the rename fails (a non-empty directory is in the way): the temp file is removed
  await t.rejects(writeFileAtomic(join(dir, 'target'), 'new'));
  t.equal(await readFile(join(dir, 'target', 'keep.txt'), 'utf8'), 'old');
  t.same((await readdir(dir)).sort(), ['blocker', 'target']);
});

t.test('an error after the temp file exists removes it and keeps the old file', async (t) => {
  const dir = t.testdir({ 'doc.json': '{"old":true}' });
  // the write itself throws (bad data type) after the temp file was opened
  await t.rejects(writeFileAtomic(join(dir, 'doc.json'), 42 as unknown as string), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.equal(await readFile(join(dir, 'doc.json'), 'utf8'), '{"old":true}');
  t.same(await readdir(dir), ['doc.json']);
});

t.test('concurrent writers never leave a torn file', async (t) => {
  const path = join(t.testdir(), 'doc.json');
  const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(50_000 + i) }));
  await Promise.all(bodies.map((body) => writeFileAtomic(path, body)));
  t.ok(bodies.includes(await readFile(path, 'utf8')), 'the file is exactly one of the writes');
});

t.test('readJsonFile: undefined when missing, names the file when invalid', async (t) => {
  const dir = t.testdir({ 'bad.json': '{nope' });
  t.equal(await readJsonFile(join(dir, 'missing.json')), undefined);
  await t.rejects(readJsonFile(join(dir, 'bad.json')), {
    name: 'SyntaxError',
    message: /bad\.json is not valid JSON/,
  });
});

t.test('readFileIfExists: the bytes, undefined when missing, other errors thrown', async (t) => {
  const dir = t.testdir({ 'a.bin': 'abc', sub: {} });
  t.same(await readFileIfExists(join(dir, 'a.bin')), Buffer.from('abc'));
  t.equal(await readFileIfExists(join(dir, 'missing.bin')), undefined);
  await t.rejects(readFileIfExists(join(dir, 'sub')), { code: 'EISDIR' });
});

t.test('fsyncDir works on a directory and reports a missing one', async (t) => {
  const dir = t.testdir();
  await mkdir(join(dir, 'sub'));
  await fsyncDir(join(dir, 'sub'));
  await writeFile(join(dir, 'f'), '');
  await t.rejects(fsyncDir(join(dir, 'nope')), { code: 'ENOENT' });
});
