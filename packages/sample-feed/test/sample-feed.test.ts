import t from 'tap';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFeed, type Feed, type FeedPatch } from '@patchbay/core';
import { generateSampleFeed } from '../src/sample-feed.js';
import { renderPatchTable } from '../src/patch-table.js';
import { samplePatches } from '../src/sample-feed.js';
import { versionStampContent } from '../src/payload-script.js';
import { stringifyFeed } from '../src/stable-json.js';

const sha = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

async function readTree(dir: string, prefix = ''): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name;
    if (entry.isDirectory())
      for (const [k, v] of await readTree(join(dir, entry.name), `${rel}/`)) out.set(k, v);
    else out.set(rel, await readFile(join(dir, entry.name)));
  }
  return out;
}

async function generated(
  dir: string,
  opts: { sequence?: number; extraPatches?: boolean } = {},
): Promise<{ dir: string; feed: Feed; bytes: Buffer }> {
  await generateSampleFeed({ outDir: dir, ...opts });
  const bytes = await readFile(join(dir, 'feed.json'));
  return { dir, feed: JSON.parse(bytes.toString('utf8')) as Feed, bytes };
}

function byId(feed: Feed): Map<string, FeedPatch> {
  return new Map(feed.patches.map((patch) => [patch.id, patch]));
}

/** Longest requirement chain ending at `id`, counting patches (a patch with no requires is 1). */
function chainDepth(patches: Map<string, FeedPatch>, id: string, seen: Set<string> = new Set()): number {
  if (seen.has(id)) throw new Error(`requirement cycle through ${id}`);
  const requires = patches.get(id)?.requires ?? [];
  const next = new Set(seen).add(id);
  return 1 + Math.max(0, ...requires.map((req) => chainDepth(patches, req, next)));
}

function closure(patches: Map<string, FeedPatch>, ids: readonly string[]): Set<string> {
  const out = new Set<string>();
  const visit = (id: string): void => {
    if (out.has(id)) return;
    out.add(id);
    for (const req of patches.get(id)?.requires ?? []) visit(req);
  };
  ids.forEach(visit);
  return out;
}

t.test('two runs write identical bytes, and a re-run in place changes nothing', async (t) => {
  const root = t.testdir();
  const a = await generated(join(root, 'a'));
  const b = await generated(join(root, 'b'));
  const treeA = await readTree(a.dir);
  const treeB = await readTree(b.dir);
  t.same([...treeA.keys()].sort(), [...treeB.keys()].sort());
  for (const [name, bytes] of treeA)
    t.ok(bytes.equals(treeB.get(name) ?? Buffer.alloc(0)), `${name} identical`);
  t.notMatch(a.bytes.toString(), a.dir, 'no absolute paths in feed.json');
  for (const [name, bytes] of treeA)
    t.notMatch(bytes.toString('latin1'), a.dir, `no absolute path in ${name}`);

  const mtimeBefore = (await stat(join(a.dir, 'feed.json'))).mtimeMs;
  const again = await generateSampleFeed({ outDir: a.dir });
  t.equal(again.changed, 0);
  t.same(again.removed, []);
  t.equal((await stat(join(a.dir, 'feed.json'))).mtimeMs, mtimeBefore, 'feed.json not rewritten');
});

t.test(
  'the default feed is sequence 7 with fixed timestamps; sequence 8 + extraPatches adds one',
  async (t) => {
    const root = t.testdir();
    const seven = await generated(join(root, 'seven'));
    t.equal(seven.feed.format, 'patchbay-feed/1');
    t.equal(seven.feed.vendor, 'Arcserve');
    t.equal(seven.feed.sequence, 7);
    t.equal(seven.feed.generatedAt, '2026-11-20T08:00:00Z');
    t.ok(
      seven.feed.patches.length >= 28 && seven.feed.patches.length <= 30,
      `${seven.feed.patches.length} patches`,
    );
    t.same(seven.feed.products.find((p) => p.id === 'arcserve-backup')?.releases, ['18.0', '19.0']);

    const eight = await generated(join(root, 'eight'), { sequence: 8, extraPatches: true });
    t.equal(eight.feed.sequence, 8);
    t.equal(eight.feed.generatedAt, '2026-11-27T08:00:00Z');
    const added = eight.feed.patches.filter((p) => !byId(seven.feed).has(p.id)).map((p) => p.id);
    t.same(added, ['T5KB0216']);

    // Going back to the default removes the extra patch's file from files/.
    const back = await generateSampleFeed({ outDir: eight.dir });
    t.same(back.removed, ['T5KB0216.sh']);
    t.same(await readTree(eight.dir), await readTree(seven.dir));
    await t.rejects(generateSampleFeed({ outDir: join(root, 'zero'), sequence: 0 }), RangeError);
  },
);

t.test('every file matches its size and sha256, and every file on disk is in the feed', async (t) => {
  const { dir, feed } = await generated(t.testdir());
  const named = new Set<string>();
  for (const patch of feed.patches) {
    t.ok(patch.files.length >= 1, `${patch.id} has files`);
    for (const file of patch.files) {
      t.equal(file.url, `files/${file.name}`);
      const bytes = await readFile(join(dir, file.url));
      t.equal(bytes.length, file.size, `${file.name} size`);
      t.equal(sha(bytes), file.sha256, `${file.name} sha256`);
      named.add(file.name);
    }
    const placeholders = JSON.stringify([patch.install, patch.uninstall]).match(/\{file:[^}]+\}/g) ?? [];
    for (const p of placeholders)
      t.ok(
        patch.files.some((f) => `{file:${f.name}}` === p),
        `${patch.id} ${p}`,
      );
  }
  t.same((await readdir(join(dir, 'files'))).sort(), [...named].sort());
});

t.test('relations: ids exist, chains are deep enough, supersedence within the feed', async (t) => {
  const { feed } = await generated(t.testdir());
  const patches = byId(feed);
  t.equal(patches.size, feed.patches.length, 'patch ids are unique');
  for (const patch of feed.patches) {
    for (const id of [...(patch.requires ?? []), ...(patch.supersedes ?? [])]) {
      const other = patches.get(id);
      t.ok(other, `${patch.id} refers to ${id}, which exists`);
      t.equal(other?.release, patch.release, `${patch.id} -> ${id} stays in its release`);
    }
    t.ok(
      feed.products.some((p) => p.id === patch.product && p.releases.includes(patch.release)),
      patch.id,
    );
  }
  const deepest = (release: string): number =>
    Math.max(...feed.patches.filter((p) => p.release === release).map((p) => chainDepth(patches, p.id)));
  t.ok(deepest('18.0') >= 3, `18.0 chain depth ${deepest('18.0')}`);
  t.ok(deepest('19.0') >= 4, `19.0 chain depth ${deepest('19.0')}`);
  t.same(
    feed.patches.filter((p) => (p.supersedes ?? []).length > 0).map((p) => [p.id, p.supersedes]),
    [
      ['T5KB0106', ['T5KB0102']],
      ['T5KB0212', ['T5KB0205']],
    ],
  );
  for (const severity of ['critical', 'recommended', 'optional'] as const) {
    for (const release of ['18.0', '19.0']) {
      t.ok(
        feed.patches.some((p) => p.severity === severity && p.release === release),
        `${severity} patch in ${release}`,
      );
    }
  }
});

t.test('exactly the special patches described', async (t) => {
  const { feed } = await generated(t.testdir());
  const ids = (pred: (p: FeedPatch) => boolean): string[] => feed.patches.filter(pred).map((p) => p.id);
  t.same(
    ids((p) => p.rebootRequired === true),
    ['T5KB0207'],
  );
  t.same(
    ids((p) => JSON.stringify(p.platforms) === '["win32"]'),
    ['T5KB0208', 'T5KB0217', 'T5KB0218', 'T5KB0219', 'T5KB0220'],
  );
  t.same(
    ids((p) => JSON.stringify(p.platforms) === '["linux"]'),
    ['T5KB0209'],
  );
  t.same(
    ids((p) => p.platforms !== undefined),
    ['T5KB0208', 'T5KB0209', 'T5KB0217', 'T5KB0218', 'T5KB0219', 'T5KB0220'],
  );
  t.same(
    ids((p) => p.uninstall === undefined),
    ['T5KB0206', 'T5KB0218', 'T5KB0220'],
  );
  t.same(
    ids((p) => p.detect === undefined),
    ['T5KB0213'],
  );
  t.same(
    ids((p) => p.detect !== undefined && 'fileSha256' in p.detect),
    ['T5KB0203'],
  );
  t.same(
    ids((p) => p.detect !== undefined && 'command' in p.detect),
    ['T5KB0204'],
  );
  t.ok(ids((p) => p.detect !== undefined && 'fileExists' in p.detect).length >= 20, 'fileExists on most');
  t.same(
    ids((p) => p.files.length > 1),
    ['T5KB0107', 'T5KB0202', 'T5KB0206', 'T5KB0214'],
  );

  const patches = byId(feed);
  const failing = patches.get('T5KB0210');
  t.equal(failing?.severity, 'optional');
  t.same(
    ids((p) => (p.requires ?? []).includes('T5KB0210')),
    ['T5KB0211'],
  );

  // The demo runs `install --critical` for 19.0 on linux: all of it must be installable.
  const onLinux = (p: FeedPatch): boolean => p.platforms === undefined || p.platforms.includes('linux');
  const critical19 = ids((p) => p.release === '19.0' && p.severity === 'critical' && onLinux(p));
  const needed = closure(patches, critical19);
  for (const id of needed) {
    const patch = patches.get(id)!;
    t.notOk(['T5KB0210', 'T5KB0211'].includes(id), `${id} is not the failing one or its dependant`);
    t.ok(onLinux(patch), `${id} runs on linux`);
  }

  const stampRule = patches.get('T5KB0203')?.detect;
  t.same(stampRule, {
    fileSha256: {
      path: '{installDir}/lib/jobeng/T5KB0203.version',
      sha256: sha(versionStampContent({ id: 'T5KB0203', component: 'jobeng', release: '19.0' })),
    },
  });
});

t.test('the feed validates with core parseFeed', async (t) => {
  const { bytes } = await generated(t.testdir(), { sequence: 8, extraPatches: true });
  const feed: Feed = parseFeed(bytes);
  t.equal(feed.patches.length, 30);
  t.equal(feed.sequence, 8);
});

t.test('docs/sample-feed.md carries the table generated from the data', async (t) => {
  const docs = fileURLToPath(new URL('../../../docs/sample-feed.md', import.meta.url));
  const text = await readFile(docs, 'utf8');
  t.ok(
    text.includes(renderPatchTable(samplePatches({ extraPatches: true }))),
    'regenerate with: node packages/sample-feed/bin/patchbay-sample-feed.js table --extra-patches',
  );
});

t.test('a fileVersion detect rule is written in a stable key order', async (t) => {
  const detect = { fileVersion: { version: '19.0.1234.5', op: '>=', path: '{installDir}/a.exe' } };
  const text = stringifyFeed({ patches: [{ detect, id: 'T1' }] });
  t.match(
    text,
    /"fileVersion": \{\s+"path": "\{installDir\}\/a.exe",\s+"op": ">=",\s+"version": "19.0.1234.5"/,
  );
});

t.test('registry, msiProduct and msiPatch detect rules are written in a stable key order', async (t) => {
  const key = 'HKLM\\SOFTWARE\\Arcserve';
  const code = '{5D0B5B4F-8D3E-4C73-9C1A-2B6F0E7D1A90}';
  const text = stringifyFeed({
    patches: [
      { detect: { registry: { version: '19', op: '>=', value: 'Version', view: '32', key } }, id: 'T1' },
      { detect: { msiProduct: { version: '19', op: '=', productCode: code } }, id: 'T2' },
      { detect: { msiPatch: { productCode: code, patchCode: code } }, id: 'T3' },
    ],
  });
  t.match(
    text,
    /"registry": \{\s+"key": "HKLM[^"]+",\s+"view": "32",\s+"value": "Version",\s+"op": ">=",\s+"version": "19"/,
  );
  t.match(text, /"msiProduct": \{\s+"productCode": "\{5D0B[^"]+",\s+"op": "=",\s+"version": "19"/);
  t.match(text, /"msiPatch": \{\s+"patchCode": "\{5D0B[^"]+",\s+"productCode": "\{5D0B/);
});

t.test('the exit-code classes follow successExitCodes in a command', async (t) => {
  const install = { retryExitCodes: [1618], rebootExitCodes: [3010], successExitCodes: [0], command: ['x'] };
  const text = stringifyFeed({ patches: [{ install, id: 'T1' }] });
  t.match(
    text,
    /"command": \[\s+"x"\s+\],\s+"successExitCodes": \[\s+0\s+\],\s+"rebootExitCodes": \[\s+3010\s+\],\s+"retryExitCodes": \[\s+1618\s+\]/,
  );
});
