// cache.prune: the real CLI against a real loopback staging fixture. Installed and
// superseded patches leave the cache; pending ones stay; uninstall fetches again.
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Catalog, PatchState } from '@patchbay/core';
import { prunableBlobs } from '../src/cache-prune.js';
import { makeSandbox } from './fixtures/client.js';
import { buildCatalog, startStaging } from './fixtures/staging.js';
import type { BuiltCatalog, FixturePatch } from './fixtures/staging.js';

interface Result {
  id: string;
  outcome: string;
}

function blobOf(built: BuiltCatalog, id: string): string {
  return built.catalog.patches.find((p) => p.id === id)!.files[0]!.sha256;
}

async function setup(t: Parameters<Parameters<typeof t.test>[1]>[0], patches: FixturePatch[]) {
  const built = buildCatalog(patches);
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  const cached = (id: string): boolean => {
    const hex = blobOf(built, id);
    return existsSync(path.join(sb.dataDir, 'cache', 'blobs', 'sha256', hex.slice(0, 2), hex));
  };
  const blobGets = (id: string): number =>
    staging.requests.filter((r) => r.method === 'GET' && r.url.endsWith(blobOf(built, id))).length;
  return { built, staging, sb, cached, blobGets };
}

t.test('prunableBlobs: done patches go, unless a pending patch shares the blob', async (t) => {
  const catalog = {
    patches: [
      { id: 'I', files: [{ sha256: 'i' }] },
      { id: 'S', files: [{ sha256: 's' }] },
      { id: 'P', files: [{ sha256: 'p' }] },
      { id: 'X', files: [{ sha256: 'shared' }] },
      { id: 'Y', files: [{ sha256: 'shared' }] },
      { id: 'Other', files: [{ sha256: 'o' }] },
    ],
  } as unknown as Catalog;
  const observed = (states: Record<string, PatchState>) =>
    Object.fromEntries(Object.entries(states).map(([id, state]) => [id, { state, since: '' }]));
  const drop = prunableBlobs(
    catalog,
    observed({ I: 'installed', S: 'superseded', P: 'downloaded', X: 'installed', Y: 'failed' }),
  );
  t.same([...drop].sort(), ['i', 's'], 'shared blob kept for Y; patches not for this host untouched');
});

t.test('install prunes installed patches; pending ones stay; uninstall fetches again', async (t) => {
  const { staging, sb, cached, blobGets } = await setup(t, [
    { id: 'A' },
    { id: 'B', requires: ['A'] },
    { id: 'C' },
  ]);
  t.equal((await sb.run(['download', 'C'])).code, 0);
  t.ok(cached('C'));

  const install = await sb.json<{ results: Result[] }>(['install', 'B']);
  t.equal(install.code, 0, install.stderr);
  t.same(
    install.doc.results.map((r) => [r.id, r.outcome]),
    [
      ['A', 'ok'],
      ['B', 'ok'],
    ],
  );
  t.notOk(cached('A'), 'installed A pruned');
  t.notOk(cached('B'), 'installed B pruned');
  t.ok(cached('C'), 'C, still pending, stays');
  const last = staging.reports.at(-1) as { patches: { id: string; cached?: boolean }[] };
  t.same(
    last.patches.map((p) => [p.id, p.cached ?? null]).sort(),
    [
      ['A', false],
      ['B', false],
      ['C', true],
    ],
    'the report after the install says what is cached now',
  );

  t.equal((await sb.run(['check'])).code, 0);
  t.ok(cached('C'), 'a check keeps pending patches');

  const before = blobGets('B');
  const uninstall = await sb.json<{ results: Result[] }>(['uninstall', 'B']);
  t.equal(uninstall.code, 0, uninstall.stderr);
  t.same(
    uninstall.doc.results.map((r) => [r.id, r.outcome]),
    [['B', 'ok']],
  );
  t.equal(blobGets('B'), before + 1, "uninstall downloaded B's pruned file again");
  t.notOk(sb.marker('B'), 'the uninstaller ran');
  t.ok(cached('B'), 'an uninstalled patch keeps its file (it may be installed again)');
});

t.test('a superseded patch leaves the cache once its successor is installed', async (t) => {
  const { sb, cached } = await setup(t, [{ id: 'OLD' }, { id: 'NEW', supersedes: ['OLD'] }]);
  t.equal((await sb.run(['download', 'OLD'])).code, 0);
  t.ok(cached('OLD'));
  const install = await sb.run(['install', 'NEW']);
  t.equal(install.code, 0, install.stderr);
  t.notOk(cached('OLD'), 'superseded: pruned');
  t.notOk(cached('NEW'), 'installed: pruned');
});

t.test('cache.prune false keeps everything', async (t) => {
  const { sb, cached } = await setup(t, [{ id: 'A' }]);
  sb.writeConfig({ cache: { prune: false } });
  const install = await sb.run(['install', 'A']);
  t.equal(install.code, 0, install.stderr);
  t.ok(cached('A'), 'kept');
});
