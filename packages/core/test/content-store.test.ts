import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ContentStore } from '../src/content-store.js';
import { ErrorCodes } from '../src/errors.js';
import { sha256Hex } from '../src/hash.js';

async function putBlob(store: ContentStore, data: string): Promise<string> {
  const hex = sha256Hex(data);
  await mkdir(store.tmpDir, { recursive: true });
  const temp = store.newTempPath();
  await writeFile(temp, data);
  await store.commit(temp, hex);
  return hex;
}

t.test('layout: blobs/sha256/<2 hex>/<hex>, partials in tmp', async (t) => {
  const root = t.testdir();
  const store = new ContentStore(root);
  const hex = 'ab' + '0'.repeat(62);
  t.equal(store.blobPath(hex), join(root, 'blobs', 'sha256', 'ab', hex));
  t.equal(store.partialPath(hex), join(root, 'tmp', `${hex}.part`));
  t.equal(store.partialStatePath(hex), join(root, 'tmp', `${hex}.part.json`));
});

t.test('malformed digests never become paths', async (t) => {
  const store = new ContentStore(t.testdir());
  for (const bad of [
    '',
    '../../etc/passwd',
    'A'.repeat(64),
    'a'.repeat(63),
    `${'a'.repeat(62)}/x`,
    'g'.repeat(64),
  ]) {
    t.throws(() => store.blobPath(bad), { code: ErrorCodes.BAD_DIGEST }, JSON.stringify(bad));
    t.throws(() => store.partialPath(bad), { code: ErrorCodes.BAD_DIGEST });
    await t.rejects(store.has(bad), { code: ErrorCodes.BAD_DIGEST });
    await t.rejects(store.commit('/nonexistent', bad), { code: ErrorCodes.BAD_DIGEST });
  }
});

t.test('commit, has, verify, stats, remove', async (t) => {
  const store = new ContentStore(t.testdir());
  t.same(await store.stats(), { blobs: 0, bytes: 0 });
  const a = await putBlob(store, 'hello');
  const b = await putBlob(store, 'patchbay!');
  t.ok(await store.has(a));
  t.ok(await store.verify(a));
  t.equal(await readFile(store.blobPath(b), 'utf8'), 'patchbay!');
  t.same(await readdir(store.tmpDir), [], 'the temp file was moved, not copied');
  t.same(await store.stats(), { blobs: 2, bytes: 5 + 9 });

  // corruption is caught by verify, not by has
  await writeFile(store.blobPath(a), 'HELLO');
  t.ok(await store.has(a));
  t.notOk(await store.verify(a));

  await store.remove(a);
  t.notOk(await store.has(a));
  t.notOk(await store.verify(a));
  t.same(await store.stats(), { blobs: 1, bytes: 9 });
});

t.test('cleanTemp keeps resumable partials and removes crash leftovers', async (t) => {
  const store = new ContentStore(t.testdir());
  const resumable = 'a'.repeat(64);
  const orphanPartial = 'b'.repeat(64);
  const orphanState = 'c'.repeat(64);
  await mkdir(store.tmpDir, { recursive: true });
  await writeFile(store.partialPath(resumable), 'part');
  await writeFile(store.partialStatePath(resumable), '{}');
  await writeFile(store.partialPath(orphanPartial), 'part');
  await writeFile(store.partialStatePath(orphanState), '{}');
  await writeFile(store.newTempPath(), 'scratch');
  await writeFile(join(store.tmpDir, '.x.json.1.abc.tmp'), 'scratch');

  const { removed, kept } = await store.cleanTemp();
  t.same(kept.sort(), [`${resumable}.part`, `${resumable}.part.json`]);
  t.equal(removed.length, 4);
  t.same((await readdir(store.tmpDir)).sort(), [`${resumable}.part`, `${resumable}.part.json`]);

  // recent scratch files survive when an age is given (a download in flight)
  await writeFile(store.newTempPath(), 'in flight');
  t.equal((await store.cleanTemp({ olderThanMs: 60_000 })).removed.length, 0);
  t.same(await new ContentStore(join(store.root, 'nothing-here')).cleanTemp(), { removed: [], kept: [] });
});

t.test('bytesToWrite: each distinct blob once, less the partial already in tmp', async (t) => {
  const store = new ContentStore(t.testdir());
  const a = sha256Hex('a');
  const b = sha256Hex('b');
  const c = sha256Hex('c');
  await mkdir(store.tmpDir, { recursive: true });
  await writeFile(store.partialPath(a), Buffer.alloc(30)); // resumed: 70 more
  await writeFile(store.partialPath(c), Buffer.alloc(500)); // longer than the blob: discarded, net 0
  await mkdir(store.partialPath(b)); // not a file: counts as no partial
  const blobs = [
    { sha256: a, size: 100 },
    { sha256: b, size: 40 },
    { sha256: a, size: 100 }, // the same blob for another patch or file name
    { sha256: c, size: 200 },
  ];
  t.equal(await store.bytesToWrite(blobs), 70 + 40);
  t.equal(await store.bytesToWrite([]), 0);
  await t.rejects(store.bytesToWrite([{ sha256: 'nope', size: 1 }]), { code: ErrorCodes.BAD_DIGEST });
});
