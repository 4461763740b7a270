// gc inside the running mirror, over real HTTP on loopback: POST /v1/gc, the /v1/status
// storage figures, an old catalog's download surviving gc, and gc never racing a sync.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ErrorCodes, loadServerConfig, sha256Hex, type ServerConfig } from '@patchbay/core';
import { scheduledGc } from '../src/gc/gc-schedule.js';
import type { GcResult, MirrorService, StorageStatus } from '../src/mirror.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import {
  sha256,
  silentLogger,
  simplePatch,
  startUpstream,
  writeFeedDir,
  type FixtureFeed,
  type Upstream,
} from './fixtures/sync-upstream.js';

const ADMIN = 'gc-test-admin-token';

interface Stack {
  mirror: MirrorService;
  base: string;
  upstream: Upstream;
  feedDir: string;
  dataDir: string;
  publish(spec: FixtureFeed): Promise<void>;
  post(path: string, body?: unknown, token?: string | null): Promise<Response>;
  storage(): Promise<StorageStatus>;
}

async function startStack(t: Test, protectionDays: number): Promise<Stack> {
  const root = t.testdir({ feed: {}, data: {} });
  const feedDir = join(root, 'feed');
  const dataDir = join(root, 'data');
  await writeFeedDir(feedDir, { sequence: 1, patches: [] });
  const upstream = await startUpstream(feedDir);
  t.teardown(() => upstream.close());
  const config: ServerConfig = loadServerConfig({
    overrides: {
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: upstream.url, retries: 1, timeoutSeconds: 20 },
      schedule: { sync: null, gc: null, prune: null },
      storage: { gcProtectionDays: protectionDays },
      auth: { adminToken: ADMIN },
      log: { level: 'silent' },
    },
  });
  const mirror = await createMirrorService(config, silentLogger, { retryBaseMs: 5 });
  const store = await ReportStore.open(dataDir);
  const app = await buildServer({ mirror, store, config, logger: silentLogger });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await mirror.close();
    await store.close();
  });
  return {
    mirror,
    base,
    upstream,
    feedDir,
    dataDir,
    async publish(spec) {
      await writeFeedDir(feedDir, spec);
      const report = await mirror.startSync();
      if (!report.published) throw new Error(`sync did not publish: ${JSON.stringify(report)}`);
    },
    post: (path, body, token = ADMIN) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      }),
    async storage() {
      const res = await fetch(`${base}/v1/status`);
      return ((await res.json()) as { storage: StorageStatus }).storage;
    },
  };
}

/** Blob files in the store (count, bytes), walked independently of the code under test. */
async function walkStore(dataDir: string): Promise<{ blobs: number; bytes: number }> {
  const root = join(dataDir, 'store', 'blobs', 'sha256');
  let blobs = 0;
  let bytes = 0;
  for (const shard of await readdir(root)) {
    for (const name of await readdir(join(root, shard))) {
      blobs++;
      bytes += (await stat(join(root, shard, name))).size;
    }
  }
  return { blobs, bytes };
}

const content = (id: string): string => `#!/bin/sh\necho ${id} "$1"\n`;
const hexOf = (id: string): string => sha256(content(id));

t.test('POST /v1/gc and the /v1/status storage figures', async (t) => {
  const s = await startStack(t, 0);
  await s.publish({ sequence: 1, patches: [simplePatch('A'), simplePatch('B')] });
  await s.publish({ sequence: 2, patches: [simplePatch('A'), simplePatch('C')] });

  const before = await s.storage();
  t.same(
    { blobs: before.blobs, bytes: before.bytes },
    await walkStore(s.dataDir),
    'blobs and bytes match the store on disk',
  );
  t.equal(before.reclaimableBytes, content('B').length, 'only B, named by catalog 1 alone, is reclaimable');
  t.equal(before.lastGc, null);

  t.equal((await s.post('/v1/gc', undefined, null)).status, 401, 'admin only');
  const dry = await s.post('/v1/gc', { dryRun: true });
  t.equal(dry.status, 200);
  const dryResult = (await dry.json()) as GcResult;
  t.same([dryResult.dryRun, dryResult.removedBlobs], [true, 1]);
  t.equal((await fetch(`${s.base}/v1/blobs/sha256/${hexOf('B')}`)).status, 200, 'a dry run removes nothing');

  const res = await s.post('/v1/gc');
  t.equal(res.status, 200);
  const result = (await res.json()) as GcResult;
  t.same([result.removedBlobs, result.reclaimedBytes, result.keptBlobs], [1, content('B').length, 2]);
  t.equal((await fetch(`${s.base}/v1/blobs/sha256/${hexOf('B')}`)).status, 404, 'B is gone');
  for (const id of ['A', 'C']) {
    t.equal((await fetch(`${s.base}/v1/blobs/sha256/${hexOf(id)}`)).status, 200, `${id} (current) stays`);
  }

  const after = await s.storage();
  t.same(
    { blobs: after.blobs, bytes: after.bytes },
    await walkStore(s.dataDir),
    'figures recomputed after gc',
  );
  t.equal(after.reclaimableBytes, 0);
  t.same(after.lastGc, { at: result.at, removedBlobs: 1, reclaimedBytes: content('B').length });
});

/** A client that read half of BIG from catalog 1, then resumes after a sync and a gc. */
async function resumeAfterGc(t: Test, protectionDays: number): Promise<{ status: number; hex?: string }> {
  const s = await startStack(t, protectionDays);
  const big = Buffer.alloc(256 * 1024, 'patchbay-');
  const bigHex = sha256Hex(big);
  await s.publish({
    sequence: 1,
    patches: [simplePatch('A'), { id: 'BIG', files: [{ name: 'big.bin', content: big }] }],
  });
  const url = `${s.base}/v1/blobs/sha256/${bigHex}`;
  const half = big.length / 2;
  const first = await fetch(url, { headers: { range: `bytes=0-${half - 1}` } });
  t.equal(first.status, 206);
  const etag = first.headers.get('etag') ?? '';
  const head = Buffer.from(await first.arrayBuffer());

  await s.publish({ sequence: 2, patches: [simplePatch('A')] });
  const gc = (await (await s.post('/v1/gc')).json()) as GcResult;
  t.equal(gc.dryRun, false);

  const rest = await fetch(url, { headers: { range: `bytes=${half}-`, 'if-range': etag } });
  if (rest.status !== 206) return { status: rest.status };
  const tail = Buffer.from(await rest.arrayBuffer());
  return { status: rest.status, hex: sha256Hex(Buffer.concat([head, tail])) };
}

t.test("a client mid-download of an old catalog's blob still gets it", async (t) => {
  await t.test('within the protection window: the resume completes and verifies', async (t) => {
    const big = Buffer.alloc(256 * 1024, 'patchbay-');
    const { status, hex } = await resumeAfterGc(t, 7);
    t.equal(status, 206);
    t.equal(hex, sha256Hex(big), 'the whole file hashes right');
  });
  await t.test('control: with a zero window the same resume finds the blob gone', async (t) => {
    const { status } = await resumeAfterGc(t, 0);
    t.equal(status, 404);
  });
});

t.test('gc never runs beside a sync: a blob fetched but not yet published survives', async (t) => {
  const s = await startStack(t, 0);
  await s.publish({ sequence: 1, patches: [simplePatch('A')] });
  await writeFeedDir(s.feedDir, {
    sequence: 2,
    patches: [simplePatch('A'), simplePatch('D'), simplePatch('E')],
  });
  // E is held until the gc checks are done, so the sync is still running after D is in the store.
  let releaseE!: () => void;
  const holdE = new Promise<void>((resolve) => (releaseE = resolve));
  t.teardown(releaseE);
  s.upstream.faults.set('/files/E/E.sh', { hold: holdE, times: 1 });
  const syncing = s.mirror.startSync();
  const deadline = Date.now() + 20_000;
  while ((await s.mirror.blobPath(hexOf('D'))) === null) {
    if (Date.now() > deadline) t.fail('D never arrived');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.ok(s.mirror.isSyncing(), 'the sync has not published yet');
  await t.rejects(
    async () => s.mirror.gc(),
    { code: ErrorCodes.SYNC_IN_PROGRESS },
    'gc refuses while a sync runs',
  );
  t.equal((await s.post('/v1/gc')).status, 409, 'POST /v1/gc: 409 while a sync runs');
  t.equal(
    (await s.storage()).reclaimableBytes,
    0,
    "the running sync's fresh blob is not counted reclaimable",
  );

  // A scheduled tick now waits for the sync instead of skipping the day.
  const scheduled = scheduledGc(s.mirror, silentLogger, 50);

  releaseE();
  const report = await syncing;
  t.equal(report.outcome, 'ok');
  t.ok(report.published);
  await scheduled;
  t.ok((await s.storage()).lastGc, 'the scheduled gc ran once the sync had ended');
  for (const id of ['A', 'D', 'E']) t.not(await s.mirror.blobPath(hexOf(id)), null, `${id} is present`);

  // A sync started while a gc runs waits for it; then the new catalog's blobs are all there.
  await writeFeedDir(s.feedDir, { sequence: 3, patches: [simplePatch('A'), simplePatch('F')] });
  const gc = s.mirror.gc();
  const next = s.mirror.startSync();
  await gc;
  t.ok((await next).published);
  for (const p of s.mirror.current()?.catalog.patches ?? []) {
    for (const f of p.files) t.not(await s.mirror.blobPath(f.sha256), null, `${p.id} blob present`);
  }
});
