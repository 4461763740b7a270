import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import {
  ErrorCodes,
  generateSigningKeyPair,
  parsePrivateKey,
  verifyDetached,
  type Catalog,
} from '@patchbay/core';
import { CatalogStore, serializeCatalog, toPublishedCatalog } from '../src/store/catalog-store.js';
import { lockDataDir } from '../src/store/data-dir-lock.js';
import { SyncStateStore } from '../src/store/sync-state.js';
import type { CatalogSigner } from '../src/trust/mirror-key.js';

const pair = generateSigningKeyPair();
const signer: CatalogSigner = {
  keyFile: '/nonexistent/mirror.key',
  privateKey: parsePrivateKey(pair.privateKeyPem),
  keys: { mirror: pair.publicKey, fingerprint: 'test' },
};
import { sha256 } from './fixtures/sync-upstream.js';

const catalog: Catalog = {
  format: 'patchbay-catalog/1',
  vendor: 'Arcserve',
  sequence: 3,
  upstreamSequence: 7,
  generatedAt: '2026-11-20T08:00:00Z',
  publishedAt: '2026-11-21T08:00:00Z',
  products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
  patches: [],
};

t.test('data dir lock: exclusive, named, released, stale locks taken over', async (t) => {
  const dir = t.testdir();
  const lock = await lockDataDir(dir);
  await t.rejects(lockDataDir(dir), {
    code: ErrorCodes.LOCKED,
    message: new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*pid ${process.pid}`),
  });
  await lock.release();
  const again = await lockDataDir(dir);
  await again.release();

  // A lock left by a process that is gone (SIGKILL) is taken over at once.
  const dead = deadPid();
  const crashed = await lockDataDir(dir);
  await writeFile(join(dir, 'lock', 'owner.json'), JSON.stringify({ ...(await lockOwner(dir)), pid: dead }));
  const taken = await lockDataDir(dir);
  t.match(await lockOwner(dir), { pid: process.pid, hostname: hostname() });
  await taken.release();
  await crashed.release().catch(() => undefined);
});

t.test('data dir lock: the lock file of an earlier version', async (t) => {
  const dir = t.testdir();
  const lockFile = join(dir, 'lock');
  // its holder still runs: refused, named, and the file is left as it was
  const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  t.teardown(() => live.kill('SIGKILL'));
  const legacy = JSON.stringify({ pid: live.pid, startedAt: '2026-12-01T00:00:00.000Z' }) + '\n';
  await writeFile(lockFile, legacy);
  await t.rejects(lockDataDir(dir), {
    code: ErrorCodes.LOCKED,
    message: new RegExp(`in use by another patchbay-server \\(pid ${live.pid}, since 2026-12-01`),
  });
  t.equal(await readFile(lockFile, 'utf8'), legacy, 'a live holder keeps its lock');

  // its holder is gone, or the file is unreadable: replaced by the lock directory
  for (const left of [JSON.stringify({ pid: deadPid(), startedAt: 'then' }), 'garbage']) {
    await writeFile(lockFile, left);
    const lock = await lockDataDir(dir);
    t.match(await lockOwner(dir), { pid: process.pid }, `taken over: ${left}`);
    await lock.release();
    t.notOk(existsSync(lockFile), 'released: nothing left');
  }
});

/** The pid of a real process that has exited. */
function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString(),
  );
}

async function lockOwner(dir: string): Promise<{ pid: number; hostname: string; since: string }> {
  return JSON.parse(await readFile(join(dir, 'lock', 'owner.json'), 'utf8')) as {
    pid: number;
    hostname: string;
    since: string;
  };
}

t.test('sync state persists in state.sqlite across reopen', async (t) => {
  const dir = t.testdir();
  const state = await SyncStateStore.open({ dataDir: dir });
  t.same(await state.validators(), {});
  t.equal(await state.lastAcceptedSequence(), undefined);
  t.equal(await state.mirrorSequence(), 0);
  t.equal(await state.lastSync(), undefined);
  await state.recordAcceptedFeed(7, { etag: '"abc"', lastModified: 'Thu, 19 Nov 2026 08:00:00 GMT' });
  await state.setMirrorSequence(4);
  const report = {
    startedAt: '2026-11-21T08:00:00.000Z',
    finishedAt: '2026-11-21T08:00:01.000Z',
    outcome: 'partial' as const,
    error: null,
    upstreamSequence: 7,
    heldBack: [{ patchId: 'X', error: 'file x: digest mismatch' }],
    notModified: false,
    published: true,
    filesFetched: 3,
    bytesFetched: 1024,
  };
  await state.setLastSync(report);
  await state.close();

  const reopened = await SyncStateStore.open({ dataDir: dir });
  t.same(await reopened.validators(), { etag: '"abc"', lastModified: 'Thu, 19 Nov 2026 08:00:00 GMT' });
  t.equal(await reopened.lastAcceptedSequence(), 7);
  t.equal(await reopened.mirrorSequence(), 4);
  t.same(await reopened.lastSync(), report);
  await reopened.recordAcceptedFeed(8, {});
  t.same(await reopened.validators(), {}, 'validators replaced, not merged');
  await reopened.close();
});

t.test('catalog store: deterministic bytes, gzip, ETag, history and current', async (t) => {
  const dir = t.testdir();
  const store = new CatalogStore(dir);
  t.equal(await store.loadCurrent(), null);

  const bytes = serializeCatalog(catalog);
  t.ok(bytes.equals(serializeCatalog(structuredClone(catalog))), 'same catalog, same bytes');
  const published = await toPublishedCatalog(catalog, signer);
  t.ok(verifyDetached(bytes, published.signature, pair.publicKey), 'signed over the exact bytes');
  t.equal(published.etag, `"${sha256(bytes)}"`);
  t.ok(gunzipSync(published.gzip).equals(bytes));
  t.equal(published.sequence, 3);
  t.equal(published.upstreamSequence, 7);

  await store.publish(published);
  t.ok((await readFile(store.currentPath)).equals(bytes));
  t.ok((await readFile(store.historyPath(3))).equals(bytes));
  const loaded = (await store.loadCurrent(signer))?.published;
  t.equal(loaded?.etag, published.etag);
  t.same(loaded?.catalog, catalog);
  t.equal(loaded?.signature, published.signature, 'the stored signature is served again');

  await writeFile(store.currentPath, '{"format": "patchbay-catalog/1"');
  await t.rejects(store.loadCurrent(signer), 'a corrupt current.json is an error, not an empty catalog');
});

t.test('catalog store: readCurrent and readHistory, the one reader of stored catalogs', async (t) => {
  const store = new CatalogStore(t.testdir());
  t.equal(await store.readCurrent(), null, 'nothing published yet');
  t.equal(await store.readHistory(3), null, 'no such history entry');
  const published = await toPublishedCatalog(catalog, signer);
  await store.publish(published);
  const current = await store.readCurrent();
  t.same(current?.catalog, catalog);
  t.ok(current?.bytes.equals(published.bytes), 'the exact stored bytes');
  t.same((await store.readHistory(3))?.catalog, catalog);

  await writeFile(store.historyPath(2), 'not json');
  await t.rejects(
    store.readHistory(2),
    { code: ErrorCodes.FEED_NOT_JSON },
    'an invalid file is an error, not a gap',
  );
  await writeFile(store.currentPath, '{"format": "patchbay-catalog/1"}');
  await t.rejects(store.readCurrent(), { message: /catalog\/current\.json/ }, 'the error names the file');
});
