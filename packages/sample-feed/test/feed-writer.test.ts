import t from 'tap';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFeedDirectory, type FeedInput } from '../src/feed-writer.js';

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

function oneFilePatchFeed(files: FeedInput['patches'][number]['files']): FeedInput {
  return {
    format: 'patchbay-feed/1',
    vendor: 'Test',
    sequence: 1,
    generatedAt: '2026-01-01T00:00:00Z',
    products: [{ id: 'p', name: 'P', releases: ['1.0'] }],
    patches: [
      {
        id: 'P1',
        description: undefined,
        product: 'p',
        release: '1.0',
        title: 'one',
        severity: 'critical',
        publishedAt: '2026-01-01T00:00:00Z',
        files,
        install: { command: ['sh', '{file:a.sh}'] },
      },
    ],
  };
}

t.test('fills in size, sha256 and url from the content and writes files/<name>', async (t) => {
  const dir = t.testdir();
  const result = await writeFeedDirectory({
    dir,
    feed: oneFilePatchFeed([{ name: 'a.sh' }]),
    files: { 'a.sh': 'echo hello\n' },
  });
  t.equal(await readFile(join(dir, 'files', 'a.sh'), 'utf8'), 'echo hello\n');
  const written = JSON.parse(await readFile(join(dir, 'feed.json'), 'utf8'));
  t.same(written.patches[0].files, [
    { name: 'a.sh', url: 'files/a.sh', size: 11, sha256: sha('echo hello\n') },
  ]);
  t.same(result.feed?.patches[0]?.files[0]?.sha256, sha('echo hello\n'));
  t.ok((await readFile(join(dir, 'feed.json'), 'utf8')).endsWith('}\n'), 'pretty JSON with a final newline');
  t.same(result.feedJson, await readFile(join(dir, 'feed.json')));
  t.notOk(Object.keys(written.patches[0]).includes('description'), 'undefined keys are dropped');
});

t.test('explicit wrong size/sha256/url are kept as given (for bad-feed tests)', async (t) => {
  const dir = t.testdir();
  await writeFeedDirectory({
    dir,
    feed: oneFilePatchFeed([{ name: 'a.sh', size: 3, sha256: '0'.repeat(64), url: 'elsewhere/a.sh' }]),
    files: { 'a.sh': 'echo hello\n' },
  });
  const written = JSON.parse(await readFile(join(dir, 'feed.json'), 'utf8'));
  t.same(written.patches[0].files[0], {
    name: 'a.sh',
    url: 'elsewhere/a.sh',
    size: 3,
    sha256: '0'.repeat(64),
  });
  t.equal((await stat(join(dir, 'files', 'a.sh'))).size, 11, 'the real bytes are still written');
});

t.test('a file entry without content needs explicit size and sha256', async (t) => {
  const dir = t.testdir();
  await t.rejects(writeFeedDirectory({ dir, feed: oneFilePatchFeed([{ name: 'missing.sh' }]) }), {
    code: 'PB_ERR_FEED_INVALID',
    message: /missing\.sh/,
  });
  // With explicit values the entry is written even though no such file exists (404 tests).
  await writeFeedDirectory({
    dir,
    feed: oneFilePatchFeed([{ name: 'missing.sh', size: 1, sha256: 'a'.repeat(64) }]),
  });
  const written = JSON.parse(await readFile(join(dir, 'feed.json'), 'utf8'));
  t.equal(written.patches[0].files[0].url, 'files/missing.sh');
});

t.test('unsafe content names are refused', async (t) => {
  const dir = t.testdir();
  await t.rejects(writeFeedDirectory({ dir, feed: oneFilePatchFeed([]), files: { '../evil.sh': 'x' } }), {
    code: 'PB_ERR_UNSAFE_NAME',
  });
});

t.test('rawFeedJson is written byte for byte', async (t) => {
  const dir = t.testdir();
  const raw = '{ "format": "patchbay-feed/1", "sequence": "not a number"';
  const result = await writeFeedDirectory({
    dir,
    rawFeedJson: raw,
    files: { 'x.bin': Buffer.from([0, 1, 2]) },
  });
  t.equal(await readFile(join(dir, 'feed.json'), 'utf8'), raw);
  t.equal(result.feed, undefined);
  t.same([...(await readFile(join(dir, 'files', 'x.bin')))], [0, 1, 2]);
  await t.rejects(writeFeedDirectory({ dir }), { code: 'PB_ERR_USAGE' });
});

t.test('key order is stable whatever order the input was built in', async (t) => {
  const a = oneFilePatchFeed([{ name: 'a.sh' }]);
  const reversed = Object.fromEntries(Object.entries(a).reverse()) as FeedInput;
  reversed.patches = a.patches.map(
    (patch) => Object.fromEntries(Object.entries(patch).reverse()) as FeedInput['patches'][number],
  );
  const dirA = t.testdir();
  const first = await writeFeedDirectory({ dir: dirA, feed: a, files: { 'a.sh': 'x' } });
  const second = await writeFeedDirectory({ dir: dirA, feed: reversed, files: { 'a.sh': 'x' } });
  t.ok(first.feedJson.equals(second.feedJson));
  t.match(first.feedJson.toString(), /^\{\n {2}"format": "patchbay-feed\/1",\n {2}"vendor"/);
  t.equal(second.changed, 0, 'nothing rewritten when the bytes are the same');
});

t.test('signs feed.json with an Ed25519 key, and drops a stale signature when unsigned', async (t) => {
  const dir = t.testdir();
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const result = await writeFeedDirectory({ dir, feed: oneFilePatchFeed([]), signingKey: privateKey });
  const sig = Buffer.from(await readFile(join(dir, 'feed.json.sig'), 'utf8'), 'base64');
  t.ok(verify(null, result.feedJson, publicKey, sig), 'signature verifies over the exact bytes');
  await writeFeedDirectory({ dir, feed: { ...oneFilePatchFeed([]), sequence: 2 } });
  t.notOk((await readdir(dir)).includes('feed.json.sig'));
});

t.test('prune removes files no longer in the feed, and only with prune', async (t) => {
  const dir = t.testdir();
  await writeFeedDirectory({ dir, feed: oneFilePatchFeed([]), files: { 'a.sh': 'a', 'b.sh': 'b' } });
  await writeFile(join(dir, 'files', 'stray.txt'), 'stray');
  await writeFeedDirectory({ dir, feed: oneFilePatchFeed([]), files: { 'a.sh': 'a' } });
  t.same((await readdir(join(dir, 'files'))).sort(), ['a.sh', 'b.sh', 'stray.txt']);
  const result = await writeFeedDirectory({
    dir,
    feed: oneFilePatchFeed([]),
    files: { 'a.sh': 'a' },
    prune: true,
  });
  t.same(result.removed, ['b.sh', 'stray.txt']);
  t.same(await readdir(join(dir, 'files')), ['a.sh']);
});
