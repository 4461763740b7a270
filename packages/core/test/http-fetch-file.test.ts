// file: URLs (feeds carried on media) get the same conditional GET, verification and resume.
import { randomBytes } from 'node:crypto';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { ContentStore } from '../src/content-store.js';
import { ErrorCodes } from '../src/errors.js';
import { sha256Hex } from '../src/hash.js';
import { downloadBlob, fetchConditional } from '../src/http-fetch.js';

const fast = { retries: 2, retryBaseMs: 10 };
const MIB = 1 << 20;

t.test('fetchConditional on file: validators from size and mtime, 304 when they match', async (t) => {
  const dir = t.testdir({ 'feed.json': '{"sequence":1}' });
  const path = join(dir, 'feed.json');
  await utimes(path, new Date('2026-11-20T08:00:00.123Z'), new Date('2026-11-20T08:00:00.123Z'));
  const url = pathToFileURL(path).href;
  const { mtimeNs } = await stat(path, { bigint: true });

  const first = await fetchConditional(url, {}, fast);
  t.same(first, {
    notModified: false,
    url,
    body: Buffer.from('{"sequence":1}'),
    etag: `W/"14-${mtimeNs / 1_000_000n}"`,
    lastModified: 'Fri, 20 Nov 2026 08:00:00 GMT',
  });
  if (first.notModified) throw new Error('unreachable');
  t.same(await fetchConditional(url, { etag: first.etag }, fast), { notModified: true, url });
  t.same(await fetchConditional(url, { lastModified: first.lastModified }, fast), { notModified: true, url });

  await writeFile(path, '{"sequence":2}');
  await utimes(path, new Date('2026-11-21T08:00:00Z'), new Date('2026-11-21T08:00:00Z'));
  const changed = await fetchConditional(url, { etag: first.etag, lastModified: first.lastModified }, fast);
  t.same(changed.notModified === false && changed.body.toString(), '{"sequence":2}');

  await t.rejects(fetchConditional(url, {}, { ...fast, maxBytes: 5 }), { code: ErrorCodes.SIZE_MISMATCH });
});

t.test('a missing file is a 404, not retried', async (t) => {
  const url = pathToFileURL(join(t.testdir(), 'nope.json')).href;
  const retries: unknown[] = [];
  await t.rejects(fetchConditional(url, {}, { ...fast, onRetry: (i) => retries.push(i) }), {
    code: ErrorCodes.HTTP_STATUS,
    context: { status: 404, url },
  });
  t.same(retries, []);
});

async function fileJob(t: Test, size: number) {
  const body = randomBytes(size);
  const dir = t.testdir({ feed: {}, store: {} });
  const path = join(dir, 'feed', 'patch.bin');
  await writeFile(path, body);
  const store = new ContentStore(join(dir, 'store'));
  return { body, path, store, job: { url: pathToFileURL(path).href, sha256: sha256Hex(body), size, store } };
}

t.test('downloadBlob from file: verifies and stores', async (t) => {
  const { body, store, job } = await fileJob(t, 100_000);
  const result = await downloadBlob(job, fast);
  t.same(result, {
    path: store.blobPath(job.sha256),
    bytesFetched: 100_000,
    resumed: false,
    alreadyPresent: false,
  });
  t.same(await readFile(result.path), body);

  const wrong = { ...job, sha256: sha256Hex('other') };
  await t.rejects(downloadBlob(wrong, fast), { code: ErrorCodes.DIGEST_MISMATCH });
  await t.rejects(downloadBlob({ ...job, sha256: sha256Hex('x'), size: 10 }, fast), {
    code: ErrorCodes.SIZE_MISMATCH,
  });
  t.notOk(await store.has(wrong.sha256));
});

t.test('an interrupted file: download resumes from its offset', async (t) => {
  const { body, store, job } = await fileJob(t, 3 * MIB + 5);
  const controller = new AbortController();
  await t.rejects(
    downloadBlob({ ...job, onProgress: () => controller.abort() }, { ...fast, signal: controller.signal }),
    { code: ErrorCodes.ABORTED },
  );
  const partial = (await stat(store.partialPath(job.sha256))).size;
  t.equal(partial, MIB, 'one 1 MiB read landed before the abort');

  const result = await downloadBlob(job, fast);
  t.equal(result.resumed, true);
  t.equal(result.bytesFetched, job.size - partial, 'only the rest was read');
  t.same(await readFile(result.path), body);
});

t.test('a file changed since the partial (size/mtime differ) restarts from zero', async (t) => {
  const { path, store, job } = await fileJob(t, 2 * MIB);
  const controller = new AbortController();
  const v2 = randomBytes(2 * MIB);
  const target = { ...job, sha256: sha256Hex(v2) };
  await t.rejects(
    downloadBlob({ ...target, onProgress: () => controller.abort() }, { ...fast, signal: controller.signal }),
    { code: ErrorCodes.ABORTED },
  );
  await writeFile(path, v2);
  await utimes(path, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
  const result = await downloadBlob(target, fast);
  t.equal(result.resumed, false);
  t.equal(result.bytesFetched, 2 * MIB);
  t.same(await readFile(store.blobPath(target.sha256)), v2);
});
