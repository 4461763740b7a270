// `patchbay-server gc` as a child process: --dry-run, --json, the data-dir lock while
// `serve` runs, schedule.gc firing in serve (a seconds cron), and a crash mid-gc.
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ContentStore, loadServerConfig, type Catalog } from '@patchbay/core';
import type { GcResult, StorageStatus } from '../src/mirror.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { BIN, run, startServe, type Run } from './fixtures/server-cli.js';
import {
  sha256,
  silentLogger,
  simplePatch,
  startUpstream,
  writeFeedDir,
  type FixtureFeed,
} from './fixtures/sync-upstream.js';

const content = (id: string): string => `#!/bin/sh\necho ${id} "$1"\n`;
const hexOf = (id: string): string => sha256(content(id));

interface Setup {
  config: string;
  dataDir: string;
  store: ContentStore;
  publish(spec: FixtureFeed): Promise<void>;
}

async function setup(t: Test, extra: Record<string, unknown> = {}): Promise<Setup> {
  const root = t.testdir({ feed: {}, data: {} });
  const feedDir = join(root, 'feed');
  const dataDir = join(root, 'data');
  await writeFeedDir(feedDir, { sequence: 1, patches: [] });
  const upstream = await startUpstream(feedDir);
  t.teardown(() => upstream.close());
  const config = join(root, 'server.json');
  await writeFile(
    config,
    JSON.stringify({
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: upstream.url, retries: 1 },
      schedule: { sync: null, gc: null },
      storage: { gcProtectionDays: 0 },
      log: { level: 'silent' },
      ...extra,
    }),
  );
  return {
    config,
    dataDir,
    store: new ContentStore(join(dataDir, 'store')),
    // Syncs run in-process (the real mirror; fewer child processes on a loaded machine).
    async publish(spec) {
      await writeFeedDir(feedDir, spec);
      const mirror = await createMirrorService(loadServerConfig({ file: config }), silentLogger);
      try {
        const report = await mirror.startSync();
        if (!report.published) throw new Error(`sync did not publish: ${JSON.stringify(report)}`);
      } finally {
        await mirror.close();
      }
    },
  };
}

function runWithEnv(args: string[], env: Record<string, string>): Promise<Run & { signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

t.test('gc --dry-run removes nothing; gc removes and prints what it removed', async (t) => {
  const s = await setup(t);
  await s.publish({ sequence: 1, patches: [simplePatch('A'), simplePatch('B')] });
  await s.publish({ sequence: 2, patches: [simplePatch('A')] });

  const dry = await run(['--config', s.config, 'gc', '--dry-run', '--json']);
  t.equal(dry.code, 0, dry.stderr);
  const dryDoc = JSON.parse(dry.stdout) as GcResult;
  t.same([dryDoc.dryRun, dryDoc.removedBlobs, dryDoc.reclaimedBytes], [true, 1, content('B').length]);
  t.ok(await s.store.has(hexOf('B')), '--dry-run removed nothing');

  const human = await run(['--config', s.config, 'gc']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, new RegExp(`^gc: removed 1 blob\\(s\\), ${content('B').length} bytes`));
  t.notOk(await s.store.has(hexOf('B')), 'B is gone');
  t.ok(await s.store.has(hexOf('A')), 'A (current catalog) stays');
  const lastGc = JSON.parse(await readFile(join(s.dataDir, 'gc-last.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  t.same([lastGc.removedBlobs, lastGc.reclaimedBytes], [1, content('B').length], 'recorded for /v1/status');

  const again = await run(['--config', s.config, 'gc', '--json']);
  t.equal((JSON.parse(again.stdout) as GcResult).removedBlobs, 0, 'nothing left to remove');
});

t.test('serve: gc and sync refuse the locked data dir; schedule.gc fires', async (t) => {
  const s = await setup(t, { schedule: { sync: null, gc: '*/2 * * * * *' } });
  await s.publish({ sequence: 1, patches: [simplePatch('A'), simplePatch('B')] });
  await s.publish({ sequence: 2, patches: [simplePatch('A')] });
  const serving = await startServe(t, s.config);

  const gc = await run(['--config', s.config, 'gc']);
  t.equal(gc.code, 1, 'gc exits 1 while serve holds the data dir');
  t.match(gc.stderr, /in use by another patchbay-server \(pid \d+/);
  t.match(gc.stderr, /POST \/v1\/gc/);
  // sync asks a running server instead (e2e-sync-via-server.test.ts); on port 0 its address
  // is unknown, so it refuses naming listen.port and starts nothing here
  const sync = await run(['--config', s.config, 'sync']);
  t.equal(sync.code, 2, 'sync cannot reach a server listening on port 0');
  t.match(sync.stderr, /data directory .* is in use by a running server, but listen\.port is 0/);

  // The seconds cron collects B without anyone asking.
  const deadline = Date.now() + 30_000;
  let storage: StorageStatus | undefined;
  while (Date.now() < deadline) {
    const res = await fetch(`${serving.url}/v1/status`);
    storage = ((await res.json()) as { storage: StorageStatus }).storage;
    if (storage.lastGc !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.ok(storage?.lastGc, 'a scheduled gc ran');
  t.notOk(await s.store.has(hexOf('B')), 'the scheduled gc removed B');
  t.ok(await s.store.has(hexOf('A')));
  serving.child.kill('SIGTERM');
  t.equal(await serving.closed, 0, 'serve stops cleanly with its gc task');
});

t.test('a crash mid-gc leaves every blob the catalogs need; the next gc finishes', async (t) => {
  const s = await setup(t);
  await s.publish({
    sequence: 1,
    patches: [simplePatch('A'), simplePatch('B'), simplePatch('C'), simplePatch('D')],
  });
  await s.publish({ sequence: 2, patches: [simplePatch('A')] });

  const crashed = await runWithEnv(['--config', s.config, 'gc'], { PATCHBAY_FAILPOINTS: 'gc:mid-blobs' });
  t.equal(crashed.signal, 'SIGKILL', 'killed after the first blob went');
  const present = await Promise.all(['B', 'C', 'D'].map((id) => s.store.has(hexOf(id))));
  t.equal(present.filter(Boolean).length, 2, 'gc stopped part way: one of three removed');

  // Invariants: the current catalog's blobs are present and verify; no history catalog left
  // on disk names a missing blob.
  const current = JSON.parse(await readFile(join(s.dataDir, 'catalog', 'current.json'), 'utf8')) as Catalog;
  for (const p of current.patches) {
    for (const f of p.files) t.ok(await s.store.verify(f.sha256), `${p.id}: present and verified`);
  }
  const historyDir = join(s.dataDir, 'catalog', 'history');
  for (const name of await readdir(historyDir)) {
    const doc = JSON.parse(await readFile(join(historyDir, name), 'utf8')) as Catalog;
    for (const p of doc.patches) {
      for (const f of p.files) t.ok(await s.store.has(f.sha256), `history ${name} ${p.id}: present`);
    }
  }

  const next = await run(['--config', s.config, 'gc', '--json']);
  t.equal(next.code, 0, next.stderr);
  const doc = JSON.parse(next.stdout) as GcResult;
  t.equal(doc.removedBlobs, 2, 'the rest goes next time');
  for (const id of ['B', 'C', 'D']) t.notOk(await s.store.has(hexOf(id)), `${id} gone`);
  t.ok(await s.store.verify(hexOf('A')));
});

t.test('gc refuses when current.json is not a valid catalog, and removes nothing', async (t) => {
  const s = await setup(t);
  await s.publish({ sequence: 1, patches: [simplePatch('A')] });
  await s.publish({ sequence: 2, patches: [simplePatch('B')] });
  await writeFile(join(s.dataDir, 'catalog', 'current.json'), '{"format": "patchbay-catalog/1"');
  const refused = await run(['--config', s.config, 'gc']);
  t.not(refused.code, 0);
  t.match(refused.stderr, /gc refused: the published catalog \S+current\.json is unreadable/);
  t.ok(await s.store.has(hexOf('A')), 'A stays');
  t.ok(await s.store.has(hexOf('B')), 'B stays');
});
