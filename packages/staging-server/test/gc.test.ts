// The collector on real files: the protection window, the current catalog's blobs,
// --dry-run, history and temp clean-up, and a seeded property check of the invariants.
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ContentStore, sha256Hex, type Catalog } from '@patchbay/core';
import { collectGarbage } from '../src/gc/collector.js';
import { silentLogger } from './fixtures/sync-upstream.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-20T12:00:00.000Z');

/** Put `contents` into the data dir's store as verified blobs; returns their digests. */
async function addBlobs(dataDir: string, contents: string[]): Promise<string[]> {
  const store = new ContentStore(join(dataDir, 'store'));
  await mkdir(store.tmpDir, { recursive: true });
  const out: string[] = [];
  for (const content of contents) {
    const temp = store.newTempPath();
    await writeFile(temp, content);
    const hex = sha256Hex(Buffer.from(content));
    await store.commit(temp, hex);
    out.push(hex);
  }
  return out;
}

function catalogOf(sequence: number, publishedAt: number, blobs: string[], sizes: number[] = []): Catalog {
  return {
    format: 'patchbay-catalog/1',
    vendor: 'Arcserve',
    sequence,
    upstreamSequence: sequence,
    generatedAt: new Date(publishedAt).toISOString(),
    publishedAt: new Date(publishedAt).toISOString(),
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
    patches: blobs.map((hex, i) => ({
      id: `P${sequence}-${i}`,
      product: 'arcserve-backup',
      release: '19.0',
      title: `patch ${i}`,
      severity: 'critical' as const,
      publishedAt: new Date(publishedAt).toISOString(),
      files: [{ name: `f${i}.sh`, url: `/v1/blobs/sha256/${hex}`, size: sizes[i] ?? 1, sha256: hex }],
      install: { command: ['sh', `{file:f${i}.sh}`] },
    })),
  };
}

async function writeHistory(dataDir: string, catalog: Catalog): Promise<void> {
  const dir = join(dataDir, 'catalog', 'history');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${catalog.sequence}.json`), JSON.stringify(catalog, null, 2));
}

async function present(dataDir: string): Promise<Set<string>> {
  const store = new ContentStore(join(dataDir, 'store'));
  const out = new Set<string>();
  for (const shard of await readdir(store.blobsDir).catch(() => [])) {
    for (const name of await readdir(join(store.blobsDir, shard))) out.add(name);
  }
  return out;
}

async function historyOnDisk(dataDir: string): Promise<number[]> {
  const names = await readdir(join(dataDir, 'catalog', 'history')).catch(() => []);
  return names.map((n) => Number(n.replace('.json', ''))).sort((a, b) => a - b);
}

/**
 * seq 1 (T0) names OLD and SHARED; seq 2 (T0 + 1 min) replaces it without OLD;
 * seq 3 (current, T0 + 2 min) is a re-sign of seq 2. So OLD was last served at T0 + 1 min.
 */
async function threeCatalogs(dataDir: string) {
  const [old, shared, fresh, stray] = await addBlobs(dataDir, ['old\n', 'shared\n', 'fresh\n', 'stray\n']);
  const c1 = catalogOf(1, T0, [old!, shared!]);
  const c2 = catalogOf(2, T0 + 60_000, [shared!, fresh!]);
  const c3 = catalogOf(3, T0 + 120_000, [shared!, fresh!]);
  for (const c of [c1, c2, c3]) await writeHistory(dataDir, c);
  return { old: old!, shared: shared!, fresh: fresh!, stray: stray!, current: c3 };
}

t.test('protection window: a blob named only by a catalog served 2 days ago', async (t) => {
  await t.test('survives with a 7-day window', async (t) => {
    const dataDir = t.testdir();
    const f = await threeCatalogs(dataDir);
    const result = await collectGarbage({
      dataDir,
      current: f.current,
      protectionDays: 7,
      dryRun: false,
      logger: silentLogger,
      now: new Date(T0 + 2 * DAY),
    });
    const left = await present(dataDir);
    t.ok(left.has(f.old), 'the old catalog is protected, so its blob stays');
    t.notOk(left.has(f.stray), 'a blob no catalog names goes');
    t.equal(result.removedBlobs, 1);
    t.equal(result.reclaimedBytes, 'stray\n'.length);
    t.same(result.protectedCatalogs, [1, 2, 3]);
    t.same(await historyOnDisk(dataDir), [1, 2, 3]);
  });
  await t.test('goes with a 1-day window (and so does its history file)', async (t) => {
    const dataDir = t.testdir();
    const f = await threeCatalogs(dataDir);
    const result = await collectGarbage({
      dataDir,
      current: f.current,
      protectionDays: 1,
      dryRun: false,
      logger: silentLogger,
      now: new Date(T0 + 2 * DAY),
    });
    const left = await present(dataDir);
    t.notOk(left.has(f.old), 'served last 2 days ago: outside a 1-day window');
    t.ok(left.has(f.shared) && left.has(f.fresh), 'the current catalog keeps its blobs');
    t.equal(result.removedBlobs, 2);
    t.same(result.removedHistory, [1, 2]);
    t.same(await historyOnDisk(dataDir), [3], 'the current catalog keeps its history file');
  });
});

t.test('an old publication replaced only an hour ago is still protected', async (t) => {
  const dataDir = t.testdir();
  const [old, cur] = await addBlobs(dataDir, ['published long ago\n', 'current\n']);
  await writeHistory(dataDir, catalogOf(1, T0 - 30 * DAY, [old!]));
  const current = catalogOf(2, T0 - 3_600_000, [cur!]);
  await writeHistory(dataDir, current);
  const result = await collectGarbage({
    dataDir,
    current,
    protectionDays: 1,
    dryRun: false,
    logger: silentLogger,
    now: new Date(T0),
  });
  t.equal(result.removedBlobs, 0, 'clients fetched catalog 1 until an hour ago');
  t.ok((await present(dataDir)).has(old!));
});

t.test('--dry-run removes nothing and reports what a real run removes', async (t) => {
  const dataDir = t.testdir();
  const f = await threeCatalogs(dataDir);
  const before = await present(dataDir);
  const opts = {
    dataDir,
    current: f.current,
    protectionDays: 1,
    logger: silentLogger,
    now: new Date(T0 + 2 * DAY),
  };
  const dry = await collectGarbage({ ...opts, dryRun: true });
  t.same(await present(dataDir), before, 'no blob removed');
  t.same(await historyOnDisk(dataDir), [1, 2, 3], 'no history file removed');
  t.equal(dry.dryRun, true);
  const real = await collectGarbage({ ...opts, dryRun: false });
  t.same(
    { blobs: real.removedBlobs, bytes: real.reclaimedBytes, history: real.removedHistory },
    { blobs: dry.removedBlobs, bytes: dry.reclaimedBytes, history: dry.removedHistory },
    'the dry run predicted the real one',
  );
  t.equal(before.size - (await present(dataDir)).size, real.removedBlobs);
});

t.test('no published catalog: no blob is removed', async (t) => {
  const dataDir = t.testdir();
  const [a] = await addBlobs(dataDir, ['a\n']);
  const result = await collectGarbage({
    dataDir,
    current: null,
    protectionDays: 0,
    dryRun: false,
    logger: silentLogger,
  });
  t.equal(result.removedBlobs, 0);
  t.match(result.blobsSkipped, /no published catalog/);
  t.ok((await present(dataDir)).has(a!));
});

t.test('an unreadable recent history catalog stops blob removal', async (t) => {
  const dataDir = t.testdir();
  const [a, b] = await addBlobs(dataDir, ['a\n', 'b\n']);
  const current = catalogOf(5, Date.now(), [a!]);
  await writeHistory(dataDir, current);
  await writeFile(join(dataDir, 'catalog', 'history', '4.json'), '{"torn');
  const result = await collectGarbage({
    dataDir,
    current,
    protectionDays: 7,
    dryRun: false,
    logger: silentLogger,
  });
  t.equal(result.removedBlobs, 0);
  t.match(result.blobsSkipped, /unreadable/);
  t.ok((await present(dataDir)).has(b!), 'its blobs might be named by it');
});

t.test('stale temp files go; fresh ones and wanted partials stay', async (t) => {
  const dataDir = t.testdir();
  const [cur] = await addBlobs(dataDir, ['current\n']);
  const current = catalogOf(1, Date.now(), [cur!]);
  const tmp = join(dataDir, 'store', 'tmp');
  const wanted = sha256Hex(Buffer.from('wanted by the feed'));
  const unwanted = sha256Hex(Buffer.from('dropped by the feed'));
  await mkdir(join(dataDir, 'upstream'), { recursive: true });
  await writeFile(
    join(dataDir, 'upstream', 'feed.json'),
    JSON.stringify({ patches: [{ files: [{ sha256: wanted }] }] }),
  );
  const files = {
    'scratch.tmp': true,
    'fresh.tmp': false,
    [`${wanted}.part`]: true,
    [`${wanted}.part.json`]: true,
    [`${unwanted}.part`]: true,
    [`${unwanted}.part.json`]: true,
  };
  const old = new Date(Date.now() - 2 * DAY);
  for (const [name, stale] of Object.entries(files)) {
    await writeFile(join(tmp, name), 'x');
    if (stale) await utimes(join(tmp, name), old, old);
  }
  const result = await collectGarbage({
    dataDir,
    current,
    protectionDays: 7,
    dryRun: false,
    logger: silentLogger,
  });
  t.same(result.removedTemp, [`${unwanted}.part`, `${unwanted}.part.json`, 'scratch.tmp'].sort());
  t.same((await readdir(tmp)).sort(), ['fresh.tmp', `${wanted}.part`, `${wanted}.part.json`].sort());
});

/** Deterministic PRNG (mulberry32) for the property check. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('property: gc keeps every blob a protected catalog names, hashing right', async (t) => {
  const SEED = 0x9c5eed;
  const random = seeded(SEED);
  const TRIALS = 25;
  let violations = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const dataDir = join(t.testdirName, `trial-${trial}`);
    await mkdir(dataDir, { recursive: true });
    const contents = Array.from({ length: 12 }, (_, i) => `trial ${trial} blob ${i}\n`);
    const blobs = await addBlobs(dataDir, contents);
    const pick = (): string[] => blobs.filter(() => random() < 0.3);
    const count = 1 + Math.floor(random() * 6);
    let time = T0 - Math.floor(random() * 20) * DAY;
    const catalogs: Catalog[] = [];
    for (let seq = 1; seq <= count; seq++) {
      time += Math.floor(random() * 4 * DAY);
      catalogs.push(catalogOf(seq, time, pick()));
    }
    for (const c of catalogs) await writeHistory(dataDir, c);
    const current = catalogs.at(-1)!;
    const now = Math.max(T0, time);
    const window = Math.floor(random() * 8);
    const result = await collectGarbage({
      dataDir,
      current,
      protectionDays: window,
      dryRun: false,
      logger: silentLogger,
      now: new Date(now),
    });
    // expected: blobs of every catalog whose successor came within the window, and the current's
    const keep = new Set<string>();
    catalogs.forEach((c, i) => {
      const until = i + 1 < catalogs.length ? Date.parse(catalogs[i + 1]!.publishedAt) : Infinity;
      if (until >= now - window * DAY) for (const p of c.patches) keep.add(p.files[0]!.sha256);
    });
    const left = await present(dataDir);
    const store = new ContentStore(join(dataDir, 'store'));
    for (const hex of keep) {
      if (!left.has(hex) || !(await store.verify(hex))) violations++;
    }
    for (const hex of blobs) if (!keep.has(hex) && left.has(hex)) violations++;
    // every history catalog left names only present blobs
    for (const seq of await historyOnDisk(dataDir)) {
      const doc = JSON.parse(
        await readFile(join(dataDir, 'catalog', 'history', `${seq}.json`), 'utf8'),
      ) as Catalog;
      for (const p of doc.patches) if (!left.has(p.files[0]!.sha256)) violations++;
    }
    if (!(await historyOnDisk(dataDir)).includes(current.sequence)) violations++;
    if (result.removedBlobs !== blobs.length - left.size) violations++;
  }
  t.equal(violations, 0, `${TRIALS} seeded trials (seed ${SEED}), no violation`);
  t.ok((await stat(t.testdirName)).isDirectory());
});
