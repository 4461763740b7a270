// downloadBlob over real loopback HTTP: verification, cut-offs, retry and resume.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import t from 'tap';
import type { Test } from 'tap';
import { ContentStore } from '../src/content-store.js';
import { ErrorCodes } from '../src/errors.js';
import { sha256Hex } from '../src/hash.js';
import { createDispatcher, downloadBlob } from '../src/http-fetch.js';
import { openUrl } from '../src/request.js';
import type { BlobDownload } from '../src/http-fetch.js';
import { afterClientReceives, startFaultServer, startForwardProxy } from './fixtures/fault-server.js';
import type { FaultServer, ServedFile } from './fixtures/fault-server.js';

const fast = { retries: 3, retryBaseMs: 10, stallTimeoutMs: 2000 };
const SIZE = 256 * 1024;
const LAST_MODIFIED = 'Fri, 20 Nov 2026 08:00:00 GMT';

async function setup(
  t: Test,
  file: Partial<ServedFile> = {},
): Promise<{ server: FaultServer; store: ContentStore; body: Buffer; job: BlobDownload }> {
  const body = file.body ?? randomBytes(SIZE);
  const server = await startFaultServer({
    '/blob': { etag: '"v1"', lastModified: LAST_MODIFIED, ...file, body },
  });
  t.teardown(server.close);
  const store = new ContentStore(t.testdir());
  const job = { url: server.url('/blob'), sha256: sha256Hex(body), size: body.length, store };
  return { server, store, body, job };
}

async function tmpFiles(store: ContentStore): Promise<string[]> {
  return (await readdir(store.tmpDir).catch(() => [])).sort();
}

t.test('downloads, verifies and stores; a second call finds it present', async (t) => {
  const { server, store, body, job } = await setup(t);
  const progress: number[] = [];
  const result = await downloadBlob({ ...job, onProgress: (received) => progress.push(received) }, fast);
  t.same(result, {
    path: store.blobPath(job.sha256),
    bytesFetched: SIZE,
    resumed: false,
    alreadyPresent: false,
  });
  t.same(await readFile(result.path), body);
  t.equal(progress.at(-1), SIZE);
  t.same(await tmpFiles(store), [], 'no partial or sidecar left');

  const again = await downloadBlob(job, fast);
  t.same(again, { path: result.path, bytesFetched: 0, resumed: false, alreadyPresent: true });
  t.equal(server.requests.length, 1, 'no request for a present blob');
});

t.test('a burst of 5xx is retried, then the download succeeds', async (t) => {
  const { server, job } = await setup(t);
  server.queue('/blob', { kind: 'status', status: 503 }, { kind: 'status', status: 500 });
  const result = await downloadBlob(job, fast);
  t.equal(result.bytesFetched, SIZE);
  t.equal(server.requests.length, 3);
});

t.test('404 is not retried and stores nothing', async (t) => {
  const { server, store, job } = await setup(t);
  server.queue('/blob', { kind: 'status', status: 404 });
  await t.rejects(downloadBlob(job, fast), {
    code: ErrorCodes.HTTP_STATUS,
    context: { status: 404, url: job.url },
  });
  t.equal(server.requests.length, 1);
  t.notOk(await store.has(job.sha256));
});

t.test('digest mismatch: not retried, no blob, partial deleted', async (t) => {
  const { server, store, job } = await setup(t);
  const wrong = sha256Hex('something else');
  await t.rejects(downloadBlob({ ...job, sha256: wrong }, fast), {
    code: ErrorCodes.DIGEST_MISMATCH,
    context: { url: job.url, expected: wrong, actual: job.sha256 },
  });
  t.equal(server.requests.length, 1, 'complete wrong bytes are not fetched again');
  t.notOk(await store.has(wrong));
  t.same(await tmpFiles(store), []);
});

t.test('size mismatch: a complete answer announcing fewer bytes than expected is refused', async (t) => {
  const { server, store, job } = await setup(t);
  server.queue('/blob', { kind: 'short', bytes: 1000 });
  await t.rejects(downloadBlob(job, fast), {
    code: ErrorCodes.SIZE_MISMATCH,
    context: { url: job.url, expected: SIZE, announced: 1000 },
  });
  t.equal(server.requests.length, 1, 'a wrong announced length is final');
  t.notOk(await store.has(job.sha256));
  t.same(await tmpFiles(store), []);
});

t.test('an endless body is cut off just past the expected size', async (t) => {
  const { server, store, job } = await setup(t);
  server.queue('/blob', { kind: 'endless' });
  const err = await downloadBlob(job, fast).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(err, { code: ErrorCodes.SIZE_MISMATCH, context: { url: job.url, expected: SIZE } });
  const received = (err as { context: { received: number } }).context.received;
  t.ok(received > SIZE && received <= SIZE + 128 * 1024, `cut at ${received}, soon after ${SIZE}`);
  t.equal(server.requests.length, 1);
  t.notOk(await store.has(job.sha256));
  t.same(await tmpFiles(store), [], 'no partial left');
});

t.test('a body truncated under a correct Content-Length is resumed with Range', async (t) => {
  const { server, store, body, job } = await setup(t);
  const gate = afterClientReceives(100_000);
  server.queue('/blob', { kind: 'close-after', bytes: 100_000, trigger: gate.trigger });
  const result = await downloadBlob({ ...job, onProgress: gate.onProgress }, fast);
  t.equal(result.resumed, true);
  t.same(await readFile(store.blobPath(job.sha256)), body);
  const second = server.requests[1];
  t.equal(second?.headers.range, 'bytes=100000-');
  t.equal(second?.headers['if-range'], '"v1"');
  t.equal(result.bytesFetched, SIZE, 'first part + remainder, nothing twice');
});

t.test('connection reset mid-body, then a later call (a restart) fetches only the remainder', async (t) => {
  const { server, store, body, job } = await setup(t);
  const gate = afterClientReceives(64 * 1024);
  server.queue('/blob', { kind: 'reset-after', bytes: 64 * 1024, trigger: gate.trigger });
  await t.rejects(downloadBlob({ ...job, onProgress: gate.onProgress }, { ...fast, retries: 0 }), {
    code: ErrorCodes.NETWORK,
    context: { url: job.url, cause: 'ECONNRESET' },
  });
  const partial = await stat(store.partialPath(job.sha256));
  t.equal(partial.size, 64 * 1024, 'partial kept');
  t.same(JSON.parse(await readFile(store.partialStatePath(job.sha256), 'utf8')), {
    url: job.url,
    etag: '"v1"',
    lastModified: LAST_MODIFIED,
    size: SIZE,
    sha256: job.sha256,
  });

  const result = await downloadBlob(job, fast);
  t.equal(result.resumed, true);
  t.equal(result.bytesFetched, SIZE - partial.size, 'only the remainder crossed the network');
  t.equal(server.requests.at(-1)?.headers.range, `bytes=${partial.size}-`);
  t.same(await readFile(result.path), body);
  t.same(await tmpFiles(store), []);
});

t.test('the file changed between attempts: If-Range fails, a 200 restarts from zero', async (t) => {
  const v2 = randomBytes(SIZE);
  const { server, job } = await setup(t, { body: randomBytes(SIZE), etag: '"v1"' });
  // attempt 1 got part of an old version (a stale mirror), then the connection died
  const gate = afterClientReceives(50_000);
  server.queue('/blob', { kind: 'close-after', bytes: 50_000, trigger: gate.trigger });
  const target = { ...job, sha256: sha256Hex(v2) };
  await t.rejects(downloadBlob({ ...target, onProgress: gate.onProgress }, { ...fast, retries: 0 }), {
    code: ErrorCodes.NETWORK,
  });
  server.setFile('/blob', { body: v2, etag: '"v2"', lastModified: LAST_MODIFIED });

  const result = await downloadBlob(target, fast);
  t.equal(server.requests.at(-1)?.headers['if-range'], '"v1"', 'asked for the range only if still v1');
  t.equal(result.resumed, false);
  t.equal(result.bytesFetched, SIZE, 'the whole new version');
  t.same(await readFile(result.path), v2);
});

t.test('a server that ignores Range (200) is restarted cleanly', async (t) => {
  const { server, store, body, job } = await setup(t);
  const gate = afterClientReceives(70_000);
  server.queue(
    '/blob',
    { kind: 'close-after', bytes: 70_000, trigger: gate.trigger },
    { kind: 'ignore-range' },
  );
  const result = await downloadBlob({ ...job, onProgress: gate.onProgress }, fast);
  t.equal(server.requests[1]?.headers.range, 'bytes=70000-');
  t.same(await readFile(result.path), body);
  t.same(await tmpFiles(store), []);
});

t.test('a weak ETag is never used for If-Range; Last-Modified is', async (t) => {
  const { server, job } = await setup(t, { etag: 'W/"weak"', lastModified: LAST_MODIFIED });
  const gate = afterClientReceives(30_000);
  server.queue('/blob', { kind: 'close-after', bytes: 30_000, trigger: gate.trigger });
  await downloadBlob({ ...job, onProgress: gate.onProgress }, fast);
  t.equal(server.requests[1]?.headers['if-range'], LAST_MODIFIED);
});

t.test('without a usable validator a failed download restarts from zero', async (t) => {
  const { server, store, body, job } = await setup(t, { etag: 'W/"weak"', lastModified: null });
  const gate = afterClientReceives(30_000);
  server.queue('/blob', { kind: 'close-after', bytes: 30_000, trigger: gate.trigger });
  const result = await downloadBlob({ ...job, onProgress: gate.onProgress }, fast);
  t.equal(server.requests[1]?.headers.range, undefined, 'no Range without If-Range');
  t.equal(result.resumed, false);
  t.same(await readFile(result.path), body);
  t.same(await tmpFiles(store), []);
});

t.test('416 on a resume starts over', async (t) => {
  const { server, body, job } = await setup(t);
  const gate = afterClientReceives(40_000);
  server.queue(
    '/blob',
    { kind: 'close-after', bytes: 40_000, trigger: gate.trigger },
    { kind: 'status', status: 416 },
  );
  const result = await downloadBlob({ ...job, onProgress: gate.onProgress }, fast);
  t.equal(server.requests.length, 3);
  t.equal(server.requests[2]?.headers.range, undefined);
  t.same(await readFile(result.path), body);
});

t.test('a stall is cut by stallTimeoutMs and the retry resumes', async (t) => {
  const { server, body, job } = await setup(t);
  server.queue('/blob', { kind: 'stall-after', bytes: 80_000 });
  const result = await downloadBlob(job, { ...fast, stallTimeoutMs: 150 });
  t.equal(server.requests[1]?.headers.range, 'bytes=80000-');
  t.same(await readFile(result.path), body);
});

t.test('an abort keeps the partial for the next call', async (t) => {
  const { server, store, body, job } = await setup(t);
  server.queue('/blob', { kind: 'stall-after', bytes: 90_000 });
  const controller = new AbortController();
  const pending = downloadBlob(
    { ...job, onProgress: (received) => received >= 90_000 && controller.abort() },
    { ...fast, signal: controller.signal },
  );
  await t.rejects(pending, { code: ErrorCodes.ABORTED, context: { url: job.url } });
  t.equal((await stat(store.partialPath(job.sha256))).size, 90_000);
  const result = await downloadBlob(job, fast);
  t.equal(result.bytesFetched, SIZE - 90_000);
  t.same(await readFile(result.path), body);
  t.equal(server.requests.length, 2);
});

t.test('a complete partial left by a crash is committed without a request', async (t) => {
  const { server, store, body, job } = await setup(t);
  server.queue('/blob', { kind: 'close-after', bytes: 10 });
  await t.rejects(downloadBlob(job, { ...fast, retries: 0 }));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(store.partialPath(job.sha256), body);
  const result = await downloadBlob(job, fast);
  t.same(result, { path: store.blobPath(job.sha256), bytesFetched: 0, resumed: true, alreadyPresent: false });
  t.equal(server.requests.length, 1);
});

t.test('downloads go through a forwarding proxy', async (t) => {
  const { server, body, job } = await setup(t);
  const proxy = await startForwardProxy();
  const dispatcher = createDispatcher({ proxy: proxy.url });
  t.teardown(async () => {
    await dispatcher.close();
    await proxy.close();
  });
  const gate = afterClientReceives(20_000);
  server.queue('/blob', { kind: 'close-after', bytes: 20_000, trigger: gate.trigger });
  const result = await downloadBlob({ ...job, onProgress: gate.onProgress }, { ...fast, dispatcher });
  t.same(proxy.forwarded, [job.url, job.url]);
  t.equal(server.requests[1]?.headers.range, 'bytes=20000-', 'Range crosses the proxy');
  t.same(await readFile(result.path), body);
});

t.test('two concurrent downloads of one blob share the work', async (t) => {
  const { server, body, job } = await setup(t);
  const [a, b] = await Promise.all([downloadBlob(job, fast), downloadBlob(job, fast)]);
  t.same(await readFile(a.path), body);
  t.equal(a.path, b.path);
  t.same([a.alreadyPresent, b.alreadyPresent], [false, true]);
  t.equal(server.requests.length, 1);
});

t.test('a malformed digest is refused before any request', async (t) => {
  const { server, job } = await setup(t);
  await t.rejects(downloadBlob({ ...job, sha256: '../../etc/passwd' }, fast), {
    code: ErrorCodes.BAD_DIGEST,
  });
  t.equal(server.requests.length, 0);
});

t.test('a Content-Length other than the expected size is refused before any byte is stored', async (t) => {
  for (const announce of [SIZE + 10, SIZE - 10]) {
    const { server, store, job } = await setup(t);
    // The body is the right file: only the header lies, and that alone is reason enough.
    server.queue('/blob', { kind: 'length-lie', announce });
    await t.rejects(downloadBlob(job, fast), {
      code: ErrorCodes.SIZE_MISMATCH,
      context: { url: job.url, expected: SIZE, announced: announce },
    });
    t.equal(server.requests.length, 1, 'final: not retried');
    t.notOk(await store.has(job.sha256));
    t.same(await tmpFiles(store), [], 'no partial left');
  }
});

t.test('a resumed answer must announce exactly the missing bytes', async (t) => {
  const { server, store, job } = await setup(t);
  const gate = afterClientReceives(50_000);
  server.queue(
    '/blob',
    { kind: 'close-after', bytes: 50_000, trigger: gate.trigger },
    { kind: 'length-lie', announce: SIZE },
  );
  await t.rejects(downloadBlob({ ...job, onProgress: gate.onProgress }, fast), {
    code: ErrorCodes.SIZE_MISMATCH,
    context: { expected: SIZE - 50_000, announced: SIZE },
  });
  t.equal(server.requests[1]?.headers.range, 'bytes=50000-');
  t.same(await tmpFiles(store), []);
});

t.test('bytes that arrived before the connection broke reach the reader, then the error', async (t) => {
  // A reader that is busy (as downloadBlob is while it fsyncs the resume sidecar, or writes a
  // chunk) while the body arrives and the connection closes: undici alone drops what it buffered.
  const cases = [
    { bytes: 30_000, idleMs: 100, perChunkMs: 0 },
    { bytes: 200_000, idleMs: 0, perChunkMs: 10 },
  ];
  for (const { bytes, idleMs, perChunkMs } of cases) {
    const { server } = await setup(t);
    server.queue('/blob', { kind: 'close-after', bytes });
    const res = await openUrl(server.url('/blob'), { stallTimeoutMs: 5000 });
    t.equal(res.status, 200);
    t.equal(res.contentLength, SIZE);
    if (idleMs > 0) await new Promise((resolve) => setTimeout(resolve, idleMs));
    let received = 0;
    const err = await (async () => {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (perChunkMs > 0) await new Promise((resolve) => setTimeout(resolve, perChunkMs));
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.equal(received, bytes, `all ${bytes} bytes sent were delivered`);
    t.ok(err, 'then the cut is an error, not an end');
  }
});
