// Export and import (issue 7) in process: a real mirror synced from the sample feed over a
// file: upstream, exported to real directories and tar parts, imported into other data dirs.
import { cp, mkdir, readdir, readFile, rm, stat, symlink, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { create as createTar } from 'tar';
import {
  ErrorCodes,
  isPatchbayError,
  parseCatalog,
  parseFeed,
  SERVER_CONFIG_DEFAULTS,
  verifyDetached,
  type ServerConfig,
} from '@patchbay/core';
import { generateSampleFeed } from '@patchbay/sample-feed';
import { partName, parsePartName, parseManifest, type PartsIndex } from '../src/exchange/bundle-format.js';
import { runExport, type ExportSummary } from '../src/exchange/export-cli.js';
import { selectFromCatalog } from '../src/exchange/export-plan.js';
import { bundlePath } from '../src/exchange/import-files.js';
import { runImport } from '../src/exchange/import-run.js';
import { parseSize } from '../src/exchange/size-option.js';
import { lockDataDir } from '../src/store/data-dir-lock.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { silentLogger } from './fixtures/sync-upstream.js';

/** A full config (core's defaults) for a data dir and upstream. */
function testConfig(
  dataDir: string,
  url: string,
  upstream: Partial<ServerConfig['upstream']> = {},
): ServerConfig {
  const defaults = structuredClone(SERVER_CONFIG_DEFAULTS) as ServerConfig;
  return {
    ...defaults,
    dataDir,
    upstream: { ...defaults.upstream, url, retries: 1, ...upstream },
    mirror: {},
    schedule: { ...defaults.schedule, sync: null },
    log: { level: 'silent' },
  };
}

const flags = {
  dryRun: false,
  products: [] as string[],
  releases: [] as string[],
  since: undefined,
  chunkSize: undefined,
};

async function syncOnce(config: ServerConfig): Promise<void> {
  const mirror = await createMirrorService(config, silentLogger);
  try {
    const report = await mirror.startSync();
    if (report.outcome !== 'ok') throw new Error(`sync: ${report.error}`);
  } finally {
    await mirror.close();
  }
}

async function exportTo(
  config: ServerConfig,
  dir: string,
  more: Partial<typeof flags> = {},
): Promise<ExportSummary> {
  return runExport(config, silentLogger, { ...flags, ...more, dir, json: true });
}

async function expectCode(t: Test, promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  try {
    await promise;
    t.fail(`expected ${code}`);
  } catch (err) {
    t.ok(isPatchbayError(err), `a PatchbayError: ${String(err)}`);
    t.equal((err as { code?: string }).code, code);
    t.match((err as Error).message, pattern);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

async function snapshot(dataDir: string): Promise<{ catalog: string | null; blobs: string[] }> {
  const catalog = await readFile(join(dataDir, 'catalog', 'current.json'), 'utf8').catch(() => null);
  const blobs = await filesUnder(join(dataDir, 'store', 'blobs')).catch(() => []);
  return { catalog, blobs };
}

t.test('size option, part names, bundle paths', async (t) => {
  t.equal(parseSize('650M'), 650 * 1024 ** 2);
  t.equal(parseSize('4G'), 4 * 1024 ** 3);
  t.equal(parseSize('4.7GB'), 4_700_000_000);
  t.equal(parseSize('1048576'), 1048576);
  t.equal(parseSize('64KiB'), 65536);
  t.throws(() => parseSize('12 parsecs'), { code: ErrorCodes.USAGE });
  t.throws(() => parseSize('1K'), /at least/);
  const name = partName(12, 10, 2, 5);
  t.equal(name, 'export-12-since-10.tar.part-002-of-005');
  t.same(parsePartName(name), { archive: 'export-12-since-10.tar', index: 2, count: 5 });
  t.equal(parsePartName('export-1.tar.part-006-of-005'), null);
  t.equal(parsePartName('feed.json'), null);
  const root = '/srv/bundle';
  t.equal(bundlePath(root, 'files/ab/x.sh'), '/srv/bundle/files/ab/x.sh');
  t.equal(bundlePath(root, '../etc/passwd'), null, 'outside the bundle');
  t.equal(bundlePath(root, 'https://vendor.example/x.sh'), null, 'not a local file');
  t.equal(bundlePath(root, 'file:///etc/passwd'), null);
});

t.test('export and import between two mirrors', async (t) => {
  const root = t.testdir({ feed: {}, out: {} });
  const feedDir = join(root, 'feed');
  await generateSampleFeed({ outDir: feedDir });
  const a = testConfig(join(root, 'a'), pathToFileURL(`${feedDir}/`).href);
  await syncOnce(a);
  const currentA = parseCatalog(await readFile(join(root, 'a', 'catalog', 'current.json')), 'A');

  const full = await exportTo(a, join(root, 'out', 'full'));
  const importer = (name: string, over: Partial<ServerConfig['upstream']> = {}): ServerConfig =>
    testConfig(join(root, name), 'http://127.0.0.1:9/unreachable/', { publicKey: full.publicKey, ...over });

  await t.test('the export is a signed vendor feed directory with a manifest', async (t) => {
    const dir = join(root, 'out', 'full');
    const feedBytes = await readFile(join(dir, 'feed.json'));
    const feed = parseFeed(feedBytes, 'export');
    t.equal(feed.sequence, currentA.sequence, "the feed's sequence is the mirror's");
    t.same(
      feed.patches.map((p) => p.id),
      currentA.patches.map((p) => p.id),
    );
    t.ok(
      feed.patches.every((p) => p.files.every((f) => f.url.startsWith('files/'))),
      'relative file URLs',
    );
    t.ok(verifyDetached(feedBytes, await readFile(join(dir, 'feed.json.sig'), 'utf8'), full.publicKey));
    const manifest = parseManifest(await readFile(join(dir, 'export.json')), 'export.json');
    t.equal(manifest.baseSequence, null);
    t.equal(manifest.exporter.fingerprint, full.fingerprint);
    t.equal(manifest.files.length, full.files);
    const written = await filesUnder(dir);
    const total = (await Promise.all(written.map(async (f) => (await stat(f)).size))).reduce(
      (x, y) => x + y,
      0,
    );
    t.equal(total, full.bytes, 'the bytes reported are the bytes written');
    const siblings = await readdir(join(root, 'out'));
    t.same(siblings, ['full'], 'no temp directory left beside DIR');
  });

  await t.test('dry run: the same byte count, nothing written', async (t) => {
    const dry = await exportTo(a, join(root, 'out', 'dry'), { dryRun: true });
    t.equal(dry.bytes, full.bytes);
    const dryChunked = await exportTo(a, join(root, 'out', 'dry'), { dryRun: true, chunkSize: '256K' });
    t.same(await readdir(join(root, 'out')), ['full']);
    const chunked = await exportTo(a, join(root, 'out', 'parts'), { chunkSize: '256K' });
    t.equal(chunked.bytes, dryChunked.bytes, 'the dry run predicts the tar size exactly');
    t.equal(dryChunked.parts, (chunked.parts as unknown[]).length);
    await rm(join(root, 'out', 'parts'), { recursive: true });
  });

  await t.test('filters: by release, unknown names refused', async (t) => {
    const only18 = await exportTo(a, join(root, 'out', 'r18'), { releases: ['18.0'] });
    const feed = parseFeed(await readFile(join(root, 'out', 'r18', 'feed.json')), 'r18');
    t.ok(feed.patches.length > 0 && feed.patches.every((p) => p.release === '18.0'));
    t.ok(only18.files < full.files);
    await expectCode(
      t,
      exportTo(a, join(root, 'out', 'x'), { products: ['nope'] }),
      ErrorCodes.USAGE,
      /--product nope/,
    );
    await expectCode(
      t,
      exportTo(a, join(root, 'out', 'x'), { releases: ['1.0'] }),
      ErrorCodes.USAGE,
      /--release 1\.0/,
    );
    t.equal(
      selectFromCatalog(currentA, { products: [], releases: [] }).patches.length,
      currentA.patches.length,
    );
    await expectCode(t, exportTo(a, join(root, 'out', 'full')), ErrorCodes.USAGE, /not empty/);
  });

  await t.test('a directory export imports, verified with the exporting key', async (t) => {
    const b = importer('b');
    const result = await runImport(b, silentLogger, [join(root, 'out', 'full')]);
    t.equal(result.signatureVerified, true);
    t.equal(result.filesStored, full.files);
    t.equal(result.published, true);
    const catalog = parseCatalog(await readFile(join(root, 'b', 'catalog', 'current.json')), 'B');
    t.same(
      catalog.patches.map((p) => p.id),
      currentA.patches.map((p) => p.id),
    );
    t.equal(catalog.upstreamSequence, currentA.sequence);
    const again = await runImport(b, silentLogger, [join(root, 'out', 'full')]);
    t.equal(again.newFeed, false, 'a re-import is recognised');
    t.equal(again.published, false, 'and publishes nothing new');
    t.equal(again.filesStored, 0);
  });

  await t.test('another key, a tampered file, a missing file: refused, nothing merged', async (t) => {
    const wrongKey = importer('wrong', {
      publicKey: 'MCowBQYDK2VwAyEADZaOYbSFzhVkupNcdgk9p+Q2sd3mWwNbpBs2fpI2lqY=',
    });
    await expectCode(
      t,
      runImport(wrongKey, silentLogger, [join(root, 'out', 'full')]),
      ErrorCodes.SIGNATURE,
      /does not verify/,
    );

    const bad = join(root, 'out', 'tampered');
    await cp(join(root, 'out', 'full'), bad, { recursive: true });
    const victim = (await filesUnder(join(bad, 'files')))[3]!;
    const original = await readFile(victim);
    await writeFile(victim, Buffer.from(original.map((byte, i) => (i === 0 ? byte ^ 1 : byte))));
    const c = importer('c');
    await expectCode(
      t,
      runImport(c, silentLogger, [bad]),
      ErrorCodes.IMPORT_REFUSED,
      /nothing was merged: 1 file\(s\) fail their check.*SHA-256/,
    );
    t.same(await snapshot(join(root, 'c')), { catalog: null, blobs: [] }, 'no blob stored, no catalog');
    t.same(await readdir(join(root, 'c', 'store', 'tmp')), [], 'no temp file left');

    await writeFile(victim, original);
    await rm(victim);
    await expectCode(
      t,
      runImport(c, silentLogger, [bad]),
      ErrorCodes.IMPORT_REFUSED,
      /neither in the bundle nor in this mirror's store/,
    );
    t.same((await snapshot(join(root, 'c'))).blobs, []);

    const lock = await lockDataDir(join(root, 'c'));
    t.teardown(() => lock.release());
    await expectCode(t, runImport(c, silentLogger, [join(root, 'out', 'full')]), ErrorCodes.LOCKED, /in use/);
    await lock.release();
  });

  await t.test('incremental export: on top of its base, refused without it', async (t) => {
    await generateSampleFeed({ outDir: feedDir, sequence: 8, extraPatches: true });
    await syncOnce(a);
    const inc = await exportTo(a, join(root, 'out', 'inc'), { since: String(currentA.sequence) });
    t.equal(inc.baseSequence, currentA.sequence);
    t.equal(inc.files, 1, 'only the new patch file');
    t.equal(inc.filesSkipped, full.files);

    const fresh = importer('fresh');
    await expectCode(
      t,
      runImport(fresh, silentLogger, [join(root, 'out', 'inc')]),
      ErrorCodes.IMPORT_REFUSED,
      new RegExp(`base sequence ${currentA.sequence} was never imported`),
    );
    t.same(await snapshot(join(root, 'fresh')), { catalog: null, blobs: [] });

    const b = importer('b');
    const before = await snapshot(join(root, 'b'));
    const result = await runImport(b, silentLogger, [join(root, 'out', 'inc')]);
    t.equal(result.filesStored, 1);
    t.equal(result.filesAlreadyPresent, full.files);
    const after = parseCatalog(await readFile(join(root, 'b', 'catalog', 'current.json')), 'B');
    t.ok(
      after.patches.some((p) => p.id === 'T5KB0216'),
      'the new patch is published',
    );
    t.equal((await snapshot(join(root, 'b'))).blobs.length, before.blobs.length + 1);

    await expectCode(
      t,
      runImport(b, silentLogger, [join(root, 'out', 'full')]),
      ErrorCodes.FEED_ROLLBACK,
      /rollback/,
    );
    await expectCode(t, exportTo(a, join(root, 'out', 'x'), { since: '99' }), ErrorCodes.USAGE, /--since 99/);
    await rm(join(root, 'a', 'catalog', 'history', `${currentA.sequence}.json`));
    await expectCode(
      t,
      exportTo(a, join(root, 'out', 'x'), { since: String(currentA.sequence) }),
      ErrorCodes.USAGE,
      /is gone/,
    );
  });

  await t.test('chunked export: all parts in a directory, a part missing or damaged', async (t) => {
    const parts = join(root, 'out', 'chunked');
    const summary = await exportTo(a, parts, { chunkSize: '200K' });
    const list = summary.parts as { name: string; size: number }[];
    t.ok(list.length >= 3, `${list.length} parts`);
    t.ok(
      list.every((p) => p.size <= 200 * 1024),
      'no part over the chunk size',
    );

    const d = importer('d');
    const result = await runImport(d, silentLogger, [parts]);
    t.equal(result.kind, 'parts');
    t.equal(result.sequence, summary.sequence);

    // one part per medium: give the part files themselves, each from its own directory
    const media = join(root, 'media');
    for (const [i, part] of list.entries()) {
      await mkdir(join(media, `disc${i}`), { recursive: true });
      await cp(join(parts, part.name), join(media, `disc${i}`, part.name));
    }
    const e = importer('e');
    const fromMedia = await runImport(
      e,
      silentLogger,
      list.map((p, i) => join(media, `disc${i}`, p.name)),
    );
    t.equal(fromMedia.filesStored, summary.files);

    const gap = join(root, 'out', 'gap');
    await cp(parts, gap, { recursive: true });
    await rm(join(gap, list[1]!.name));
    const f = importer('f');
    await expectCode(t, runImport(f, silentLogger, [gap]), ErrorCodes.IMPORT_REFUSED, /missing: part 2 of/);

    const damaged = join(root, 'out', 'damaged');
    await cp(parts, damaged, { recursive: true });
    await appendFile(join(damaged, list[0]!.name), 'x');
    await expectCode(
      t,
      runImport(f, silentLogger, [damaged]),
      ErrorCodes.IMPORT_REFUSED,
      new RegExp(`part ${list[0]!.name}.*damaged`),
    );
    t.same(await snapshot(join(root, 'f')), { catalog: null, blobs: [] });
    t.same(await readdir(join(root, 'f', 'store', 'tmp')), [], 'the unpacked bundle was removed');
    const index = JSON.parse(await readFile(join(parts, 'parts.json'), 'utf8')) as PartsIndex;
    t.equal(index.parts.length, list.length);
  });

  await t.test('tar archives: both layouts import; links in a tar are refused', async (t) => {
    const flat = join(root, 'out', 'flat.tar');
    await createTar({ file: flat, cwd: join(root, 'out', 'full') }, ['.']);
    const nested = join(root, 'out', 'nested.tar');
    await createTar({ file: nested, cwd: join(root, 'out') }, ['full']);
    const g = importer('g');
    t.equal((await runImport(g, silentLogger, [flat])).kind, 'tar');
    const h = importer('h');
    t.equal((await runImport(h, silentLogger, [nested])).filesStored, full.files);

    const evil = join(root, 'evil');
    await cp(join(root, 'out', 'full'), evil, { recursive: true });
    await symlink('/etc/passwd', join(evil, 'files', 'link'));
    const evilTar = join(root, 'out', 'evil.tar');
    await createTar({ file: evilTar, cwd: evil }, ['.']);
    const i = importer('i');
    await expectCode(t, runImport(i, silentLogger, [evilTar]), ErrorCodes.IMPORT_REFUSED, /not plain files/);
    await writeFile(join(root, 'out', 'junk.tar'), 'this is not a tar archive at all'.repeat(40));
    await expectCode(
      t,
      runImport(i, silentLogger, [join(root, 'out', 'junk.tar')]),
      ErrorCodes.IMPORT_REFUSED,
      /not a readable tar/,
    );
    t.same(await snapshot(join(root, 'i')), { catalog: null, blobs: [] });
  });

  await t.test(
    'a plain vendor feed directory imports (no key: unsigned feeds are taken, as by sync)',
    async (t) => {
      const j = testConfig(join(root, 'j'), 'http://127.0.0.1:9/unreachable/');
      const result = await runImport(j, silentLogger, [feedDir]);
      t.equal(result.exporter, null);
      t.equal(result.signatureVerified, false);
      t.equal(result.sequence, 8);
      await expectCode(
        t,
        runImport(j, silentLogger, [join(root, 'nowhere')]),
        ErrorCodes.USAGE,
        /does not exist/,
      );
      await expectCode(
        t,
        runImport(j, silentLogger, [join(root, 'media')]),
        ErrorCodes.USAGE,
        /not a feed directory/,
      );
    },
  );
});
