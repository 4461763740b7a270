import { spawn } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { ErrorCodes, type ServerConfig } from '@patchbay/core';
import type { MirrorService } from '../src/mirror.js';
import { SyncStateStore } from '../src/store/sync-state.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { newSyncReport } from '../src/sync/sync-run.js';
import {
  closedPortUrl,
  sha256,
  silentLogger,
  simplePatch,
  startForwardProxy,
  startUpstream,
  testConfig,
  writeFeedDir,
  type Upstream,
} from './fixtures/sync-upstream.js';

const RETRY_BASE_MS = 5;

async function openMirror(tt: Test, config: ServerConfig): Promise<MirrorService> {
  const mirror = await createMirrorService(config, silentLogger, { retryBaseMs: RETRY_BASE_MS });
  tt.teardown(() => mirror.close());
  return mirror;
}

async function serve(tt: Test, root: string): Promise<Upstream> {
  const upstream = await startUpstream(root);
  tt.teardown(() => upstream.close());
  return upstream;
}

/** Separate feed and data directories (t.testdir() is one directory per test, reset on each call). */
function dirs(tt: Test): { feedDir: string; dataDir: string } {
  const root = tt.testdir({ feed: {}, data: {} });
  return { feedDir: join(root, 'feed'), dataDir: join(root, 'data') };
}

/** Every file under dir (recursive), as absolute paths. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

function ids(mirror: MirrorService): string[] {
  return (mirror.current()?.catalog.patches ?? []).map((p) => p.id);
}

t.test('first sync publishes a verified catalog with blob URLs', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  const { feed } = await writeFeedDir(feedDir, {
    sequence: 7,
    patches: [
      simplePatch('T5KB0040'),
      simplePatch('T5KB0042', { requires: ['T5KB0040'], extra: { kbArticle: 'KB42' } }),
    ],
  });
  const upstream = await serve(t, feedDir);
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));
  t.equal(mirror.current(), null, 'nothing published before the first sync');

  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.equal(report.upstreamSequence, 7);
  t.equal(report.published, true);
  t.equal(report.filesFetched, 2);
  t.same(report.heldBack, []);
  t.ok(report.finishedAt);

  const published = mirror.current();
  t.ok(published);
  const catalog = published!.catalog;
  t.equal(catalog.format, 'patchbay-catalog/1');
  t.equal(catalog.sequence, 1, 'the mirror counter starts at 1');
  t.equal(catalog.upstreamSequence, 7);
  t.same(ids(mirror), ['T5KB0040', 'T5KB0042']);
  const patch = catalog.patches[1]!;
  t.equal(
    (patch as unknown as Record<string, unknown>).kbArticle,
    'KB42',
    'unknown patch fields are carried through',
  );
  const file = patch.files[0]!;
  t.equal(file.sha256, feed.patches[1]!.files[0]!.sha256);
  t.equal(file.url, `/v1/blobs/sha256/${file.sha256}`);

  const onDisk = await readFile(join(dataDir, 'catalog', 'current.json'));
  t.ok(onDisk.equals(published!.bytes), 'current.json holds the exact served bytes');
  t.equal(published!.etag, `"${sha256(onDisk)}"`, 'strong ETag of the bytes');
  t.ok((await readFile(join(dataDir, 'catalog', 'history', '1.json'))).equals(onDisk), 'history copy kept');
  t.same(
    JSON.parse((await import('node:zlib')).gunzipSync(published!.gzip).toString()),
    JSON.parse(onDisk.toString()),
  );

  const blob = await mirror.blobPath(file.sha256);
  t.ok(blob, 'blob is in the store');
  t.equal(sha256(await readFile(blob!)), file.sha256);
  t.equal(await mirror.blobPath('0'.repeat(64)), null, 'unknown blob: null');
  t.same(await mirror.stats(), {
    sequence: 1,
    patches: 2,
    blobs: 2,
    bytes: file.size + catalog.patches[0]!.files[0]!.size,
  });
  t.same(mirror.lastSync(), report);
});

t.test('second sync with no change: 304, zero files fetched, nothing republished', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A'), simplePatch('B')] });
  const upstream = await serve(t, feedDir);
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));
  await mirror.startSync();
  const first = mirror.current();
  t.equal(upstream.downloads(), 2);
  const feedGetsBefore = upstream.downloads('/feed.json');

  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok');
  t.equal(report.notModified, true, 'upstream answered 304');
  t.equal(upstream.downloads('/feed.json'), feedGetsBefore, 'feed.json body not downloaded again');
  t.equal(upstream.downloads(), 2, 'no file fetched');
  t.equal(report.filesFetched, 0);
  t.equal(report.published, false);
  t.equal(mirror.current(), first, 'same catalog object still served');
});

t.test('a new sequence fetches only the new files and bumps the mirror sequence', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A'), simplePatch('B')] });
  const upstream = await serve(t, feedDir);
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));
  await mirror.startSync();
  await writeFeedDir(feedDir, {
    sequence: 2,
    patches: [simplePatch('A'), simplePatch('B'), simplePatch('C')],
  });

  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.equal(report.filesFetched, 1);
  t.same(
    upstream.requests.filter((p) => p.startsWith('/files/')).sort(),
    ['/files/A/A.sh', '/files/B/B.sh', '/files/C/C.sh'],
    'A and B were not fetched again',
  );
  t.equal(mirror.current()!.sequence, 2);
  t.equal(mirror.current()!.upstreamSequence, 2);
  t.same(ids(mirror), ['A', 'B', 'C']);
});

t.test('feed errors fail the sync and keep the previous catalog', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 5, patches: [simplePatch('A')] });
  const upstream = await serve(t, feedDir);
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));
  t.equal((await mirror.startSync()).outcome, 'ok');
  const kept = mirror.current();

  const expectFailure = async (name: string, pattern: RegExp): Promise<void> => {
    const report = await mirror.startSync();
    t.equal(report.outcome, 'failed', `${name}: failed`);
    t.match(report.error, pattern, `${name}: error names the reason`);
    t.equal(report.published, false);
    t.equal(mirror.current(), kept, `${name}: previous catalog still served`);
    t.same(mirror.lastSync(), report);
  };

  await writeFeedDir(feedDir, { sequence: 4, patches: [simplePatch('A'), simplePatch('B')] });
  await expectFailure('rollback', /sequence 4 .*lower.*5/);

  await writeFeedDir(feedDir, { sequence: 5, patches: [simplePatch('A'), simplePatch('B')] });
  await expectFailure('equal sequence, other bytes', /sequence 5 equals .*differ/);

  await writeFile(join(feedDir, 'feed.json'), '{"format": "patchbay-feed/1", ');
  await expectFailure('not JSON', /JSON/);

  const { feed } = await writeFeedDir(feedDir, { sequence: 6, patches: [simplePatch('A')] });
  const broken = { ...feed, patches: [{ ...feed.patches[0], severity: 'urgent' }] };
  await writeFile(join(feedDir, 'feed.json'), JSON.stringify(broken));
  await expectFailure('schema violation', /severity/);

  const dup = { ...feed, patches: [feed.patches[0], feed.patches[0]] };
  await writeFile(join(feedDir, 'feed.json'), JSON.stringify(dup));
  await expectFailure('duplicate ids', /duplicate/i);

  upstream.faults.set('/feed.json', { status: 404, times: 1 });
  await expectFailure('feed.json 404', /feed\.json.*404/);

  t.equal(upstream.downloads(), 1, 'no file of a refused feed was downloaded');

  // The stored validators still describe sequence 5: putting it back gives 304 and no change.
  await writeFeedDir(feedDir, { sequence: 5, patches: [simplePatch('A')] });
  const back = await mirror.startSync();
  t.equal(back.outcome, 'ok');
  t.equal(back.notModified, true);
});

t.test('a bad file holds back its patch and every dependant; the rest publish (partial)', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  const badBytes = 'tampered payload\n';
  await writeFeedDir(feedDir, {
    sequence: 1,
    patches: [
      simplePatch('BASE', {
        files: [{ name: 'base.sh', content: badBytes, claimSha256: sha256('the real payload\n') }],
      }),
      simplePatch('MID', { requires: ['BASE'] }),
      simplePatch('TOP', { requires: ['MID'] }),
      simplePatch('SHORT', { files: [{ name: 's.sh', content: 'abc', claimSize: 10 }] }),
      simplePatch('OK'),
    ],
  });
  const upstream = await serve(t, feedDir);
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));

  const report = await mirror.startSync();
  t.equal(report.outcome, 'partial');
  t.equal(report.published, true);
  t.same(ids(mirror), ['OK'], 'only the healthy patch is published');
  const held = new Map(report.heldBack.map((h) => [h.patchId, h.error]));
  t.same([...held.keys()], ['BASE', 'MID', 'TOP', 'SHORT']);
  t.match(held.get('BASE'), /base\.sh/);
  t.match(held.get('BASE'), /SHA-256|sha256|digest/i);
  t.match(held.get('MID'), /BASE/);
  t.match(held.get('TOP'), /MID/);
  t.match(held.get('SHORT'), /size|bytes/i);

  for (const file of await walk(join(dataDir, 'store'))) {
    const content = await readFile(file);
    t.not(content.toString(), badBytes, `bad bytes are not in the store (${file})`);
  }
  for (const file of await walk(join(dataDir, 'store', 'blobs'))) {
    t.equal(sha256(await readFile(file)), file.split('/').pop(), 'every stored blob matches its name');
  }

  // A later sync (304) retries the held-back patches from the stored feed; once the
  // upstream serves the right bytes they are published.
  await writeFile(join(feedDir, 'files', 'BASE', 'base.sh'), 'the real payload\n');
  const retry = await mirror.startSync();
  t.equal(retry.notModified, true);
  t.equal(retry.outcome, 'partial', 'SHORT still held back');
  t.same(ids(mirror), ['BASE', 'MID', 'TOP', 'OK']);
  t.equal(mirror.current()!.sequence, 2);
});

t.test('upstream 404 for one file holds that patch back', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A'), simplePatch('B')] });
  await rm(join(feedDir, 'files', 'B', 'B.sh'));
  const upstream = await serve(t, feedDir);
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'partial');
  t.same(
    report.heldBack.map((h) => h.patchId),
    ['B'],
  );
  t.match(report.heldBack[0]!.error, /404/);
  t.same(ids(mirror), ['A']);
});

t.test('upstream 500 for feed.json fails after the retries', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A')] });
  const upstream = await serve(t, feedDir);
  upstream.faults.set('/feed.json', { status: 500 });
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url, { retries: 2 }));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'failed');
  t.match(report.error, /feed\.json/);
  t.match(report.error, /500/);
  t.equal(upstream.requests.filter((p) => p === '/feed.json').length, 3, 'first attempt + 2 retries');
  t.equal(mirror.current(), null);
});

t.test('a file answering 503 once is retried and published', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A')] });
  const upstream = await serve(t, feedDir);
  upstream.faults.set('/files/A/A.sh', { status: 503, times: 1 });
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url, { retries: 2 }));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.equal(upstream.requests.filter((p) => p === '/files/A/A.sh').length, 2, 'one failure, one retry');
  t.same(ids(mirror), ['A']);
});

t.test('connection refused fails the sync with a clear error', async (t) => {
  const { dataDir } = dirs(t);
  const url = await closedPortUrl();
  const mirror = await openMirror(t, testConfig(dataDir, url, { retries: 1 }));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'failed');
  t.match(report.error, /127\.0\.0\.1/);
  t.equal(mirror.current(), null);
});

t.test('file: upstream works the same way', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, {
    sequence: 3,
    patches: [simplePatch('A'), simplePatch('B', { requires: ['A'] })],
  });
  const mirror = await openMirror(t, testConfig(dataDir, pathToFileURL(feedDir).href));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.same(ids(mirror), ['A', 'B']);
  t.equal(report.filesFetched, 2);

  const again = await mirror.startSync();
  t.equal(again.outcome, 'ok');
  t.equal(again.filesFetched, 0);
  t.equal(again.published, false);

  await writeFeedDir(feedDir, {
    sequence: 4,
    patches: [simplePatch('A'), simplePatch('B'), simplePatch('C')],
  });
  const third = await mirror.startSync();
  t.equal(third.filesFetched, 1);
  t.same(ids(mirror), ['A', 'B', 'C']);
});

t.test('upstream.proxy: feed and files go through the proxy', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A')] });
  const upstream = await serve(t, feedDir);
  const proxy = await startForwardProxy();
  t.teardown(() => proxy.close());
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url, { proxy: proxy.url }));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.same(proxy.requests, [`${upstream.url}feed.json`, `${upstream.url}files/A/A.sh`]);
});

t.test('product/release filter', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, {
    sequence: 1,
    patches: [
      simplePatch('B19', { release: '19.0' }),
      simplePatch('B18', { release: '18.0' }),
      simplePatch('UDP', { product: 'arcserve-udp', release: '9.0' }),
    ],
  });
  const upstream = await serve(t, feedDir);
  const config = testConfig(dataDir, upstream.url);
  config.mirror.products = [{ id: 'arcserve-backup', releases: ['19.0'] }];
  const mirror = await openMirror(t, config);
  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.same(ids(mirror), ['B19']);
  t.same(mirror.current()!.catalog.products, [
    { id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] },
  ]);
  t.same(
    upstream.requests.filter((p) => p.startsWith('/files/')),
    ['/files/B19/B19.sh'],
    'files outside the filter are not fetched',
  );
});

t.test('downloads run through a queue bounded by upstream.concurrency', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  const names = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6'];
  await writeFeedDir(feedDir, { sequence: 1, patches: names.map((id) => simplePatch(id)) });
  const upstream = await serve(t, feedDir);
  for (const id of names) upstream.faults.set(`/files/${id}/${id}.sh`, { delayMs: 60 });
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url, { concurrency: 2 }));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.equal(report.filesFetched, 6);
  t.equal(upstream.maxInFlight, 2, 'never more than 2 requests at once, and parallel');
});

t.test('one sync at a time: a second startSync throws SYNC_IN_PROGRESS', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A')] });
  const upstream = await serve(t, feedDir);
  upstream.faults.set('/files/A/A.sh', { delayMs: 100 });
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));
  const first = mirror.startSync();
  t.equal(mirror.isSyncing(), true);
  t.equal(mirror.lastSync()?.outcome, 'running');
  t.throws(() => mirror.startSync(), { code: ErrorCodes.SYNC_IN_PROGRESS });
  t.equal((await first).outcome, 'ok');
  t.equal(mirror.isSyncing(), false);
  t.equal((await mirror.startSync()).outcome, 'ok', 'a new sync can start once the first ended');
});

t.test('restart on the same dataDir serves the previous catalog and lastSync', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 9, patches: [simplePatch('A'), simplePatch('B')] });
  const upstream = await serve(t, feedDir);
  const config = testConfig(dataDir, upstream.url);

  const first = await createMirrorService(config, silentLogger, { retryBaseMs: RETRY_BASE_MS });
  const report = await first.startSync();
  const etag = first.current()!.etag;
  await t.rejects(
    createMirrorService(config, silentLogger),
    { code: ErrorCodes.LOCKED, message: new RegExp(dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) },
    'a second server on the same dataDir is refused, naming the dir',
  );
  await first.close();

  const second = await openMirror(t, config);
  t.equal(second.current()?.etag, etag, 'same catalog served after restart');
  t.same(second.lastSync(), report, 'lastSync survives the restart');
  const next = await second.startSync();
  t.equal(next.notModified, true, 'validators survived too');
  t.equal(upstream.downloads(), 2);
});

t.test('restart with a blob missing serves nothing until the next successful sync', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A')] });
  const upstream = await serve(t, feedDir);
  const config = testConfig(dataDir, upstream.url);
  const first = await createMirrorService(config, silentLogger);
  await first.startSync();
  const hex = first.current()!.catalog.patches[0]!.files[0]!.sha256;
  const blob = (await first.blobPath(hex))!;
  await first.close();
  await rm(blob);

  const second = await openMirror(t, config);
  t.equal(second.current(), null, 'a catalog naming a missing blob is not served');
  const report = await second.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  t.equal(report.filesFetched, 1, 'the missing blob was fetched again');
  t.equal(second.current()!.sequence, 2);
  t.ok(await second.blobPath(hex));
});

t.test('a sync interrupted by a crash is reported as failed after restart', async (t) => {
  const { dataDir } = dirs(t);
  const state = await SyncStateStore.open({ dataDir });
  await state.setLastSync({ ...newSyncReport(new Date('2026-11-21T08:00:00Z')), upstreamSequence: 3 });
  await state.close();
  const mirror = await openMirror(t, testConfig(dataDir, 'http://127.0.0.1:9/'));
  t.match(mirror.lastSync(), {
    outcome: 'failed',
    error: /interrupted/,
    startedAt: '2026-11-21T08:00:00.000Z',
  });
});

t.test('close() aborts a running sync without publishing', async (t) => {
  const { feedDir, dataDir } = dirs(t);
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('A'), simplePatch('B')] });
  const upstream = await serve(t, feedDir);
  // B is held until the test ends: close() must not wait for it.
  let releaseB!: () => void;
  const holdB = new Promise<void>((resolve) => (releaseB = resolve));
  t.teardown(releaseB);
  upstream.faults.set('/files/B/B.sh', { hold: holdB });
  const mirror = await createMirrorService(testConfig(dataDir, upstream.url), silentLogger);
  const running = mirror.startSync();
  let settled = false;
  void running.then(() => (settled = true));
  while (!settled && !upstream.requests.includes('/files/B/B.sh'))
    await new Promise((r) => setTimeout(r, 10));
  t.notOk(settled, 'the sync is still downloading when close() is called');
  await mirror.close();
  t.pass('close returned while the download of B was still held: it did not wait for it');
  const report = await running;
  t.equal(report.outcome, 'failed');
  t.match(report.error, /abort/i);
  t.equal(mirror.current(), null);
  t.same(await walk(join(dataDir, 'catalog')), [], 'nothing published');
});

t.test(
  'publishing is atomic: a concurrent reader always parses current.json; no temp files left',
  async (t) => {
    const { feedDir, dataDir } = dirs(t);
    const mirror = await openMirror(t, testConfig(dataDir, pathToFileURL(feedDir).href));
    const current = join(dataDir, 'catalog', 'current.json');
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
       let reads = 0, bad = 0, stop = false;
       process.stdin.on('data', () => { stop = true; });
       (function loop() {
         for (let i = 0; i < 50; i++) {
           try { JSON.parse(fs.readFileSync(${JSON.stringify(current)}, 'utf8')); reads++; }
           catch (e) { if (e.code !== 'ENOENT') bad++; }
         }
         if (stop) { process.stdout.write(JSON.stringify({ reads, bad })); process.exit(0); }
         setImmediate(loop);
       })();`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let output = '';
    reader.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => reader.on('exit', resolve));

    const publications = 12;
    for (let seq = 1; seq <= publications; seq++) {
      const patches = Array.from({ length: seq }, (_, i) =>
        simplePatch(`P${i}`, { extra: { padding: 'x'.repeat(8000) } }),
      );
      await writeFeedDir(feedDir, { sequence: seq, patches });
      const report = await mirror.startSync();
      t.equal(report.published, true, `publication ${seq}`);
    }
    reader.stdin.end('stop');
    await exited;
    const result = JSON.parse(output) as { reads: number; bad: number };
    t.ok(result.reads > 0, `reader read ${result.reads} times`);
    t.equal(result.bad, 0, 'never a partial current.json');
    t.equal(mirror.current()!.sequence, publications);

    const catalogFiles = (await walk(join(dataDir, 'catalog')))
      .map((f) => f.slice(dataDir.length + 1))
      .sort();
    const expected = [
      'catalog/current.json',
      'catalog/current.json.sig',
      ...Array.from({ length: publications }, (_, i) => `catalog/history/${i + 1}.json`),
    ];
    t.same(catalogFiles, expected.sort(), 'only current.json, its signature and history: no temp files');
    t.same(await walk(join(dataDir, 'store', 'tmp')), [], 'no download temp files');
    t.same(await walk(join(dataDir, 'upstream')), [join(dataDir, 'upstream', 'feed.json')]);
  },
);
