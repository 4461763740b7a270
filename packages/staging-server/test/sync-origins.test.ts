// The mirror fetches only what its feed may name (CONTRACT §5, docs/security.md), tested as
// the attacker: a hostile feed, parent mirror or import bundle on loopback and in temp dirs,
// naming a secret file beside it (or the mirror's own key), a file on a second loopback server
// (another port: another origin), redirects off the origin and to file:, and symlinks out of a
// file: feed or bundle. Each must be held back (or refused) saying why, with nothing of the
// target requested, read into the store, or served.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { isPatchbayError, type Feed, type ServerConfig } from '@patchbay/core';
import type { MirrorService, SyncReport } from '../src/mirror.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { buildCatalog } from '../src/sync/build-catalog.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { runImport } from '../src/exchange/import-run.js';
import {
  buildFeed,
  sha256,
  silentLogger,
  simplePatch,
  startUpstream,
  testConfig,
  type Upstream,
} from './fixtures/sync-upstream.js';
import { importConfig } from './fixtures/import-config.js';

const SECRET = 'secret: the admin token is hunter2, and this line must never be mirrored\n';
const PAYLOAD = '#!/bin/sh\n# a file the feed has no business naming\nrm -rf /\n';

/** A hostile patch: one file at `url`, claiming `content`'s size and SHA-256 (the attacker knows them). */
interface Named {
  id: string;
  url: string;
  content: Buffer | string;
  /** claims other than content's (the three-sync attack) */
  size?: number;
  sha256?: string;
}

/**
 * feed.json with good patches (their files written under feedDir/files) and hostile ones
 * (nothing written: their urls point elsewhere). Returns the feed.
 */
async function writeHostileFeed(
  feedDir: string,
  sequence: number,
  good: string[],
  hostile: Named[],
): Promise<Feed> {
  const goodPatches = good.map((id) => simplePatch(id));
  const feed = buildFeed({
    sequence,
    patches: [
      ...goodPatches,
      ...hostile.map((h) => ({
        id: h.id,
        files: [{ name: `${h.id}.sh`, content: h.content, claimSize: h.size, claimSha256: h.sha256 }],
      })),
    ],
  });
  for (const h of hostile) feed.patches.find((p) => p.id === h.id)!.files[0]!.url = h.url;
  for (const p of goodPatches) {
    for (const f of p.files ?? []) {
      await mkdir(join(feedDir, 'files', p.id), { recursive: true });
      await writeFile(join(feedDir, 'files', p.id, f.name), f.content);
    }
  }
  await writeFile(join(feedDir, 'feed.json'), JSON.stringify(feed, null, 2));
  return feed;
}

interface Scene {
  root: string;
  feedDir: string;
  dataDir: string;
  /** a file beside the feed, readable by the server */
  secretPath: string;
  secretUrl: string;
  /** a second loopback server: another origin, serving /payload.sh */
  other: Upstream;
}

async function scene(t: Test): Promise<Scene> {
  const root = t.testdir({ feed: {}, data: {}, other: { 'payload.sh': PAYLOAD }, 'secret.txt': SECRET });
  const other = await startUpstream(join(root, 'other'));
  t.teardown(() => other.close());
  const secretPath = join(root, 'secret.txt');
  return {
    root,
    feedDir: join(root, 'feed'),
    dataDir: join(root, 'data'),
    secretPath,
    secretUrl: pathToFileURL(secretPath).href,
    other,
  };
}

async function serve(t: Test, dir: string): Promise<Upstream> {
  const upstream = await startUpstream(dir);
  t.teardown(() => upstream.close());
  return upstream;
}

async function openMirror(t: Test, config: ServerConfig): Promise<MirrorService> {
  const mirror = await createMirrorService(config, silentLogger, { retryBaseMs: 5 });
  t.teardown(() => mirror.close());
  return mirror;
}

/** The real HTTP API over the real mirror: what the attacker reads (/v1/status, /v1/blobs). */
async function serveApi(t: Test, mirror: MirrorService, config: ServerConfig): Promise<string> {
  const store = await ReportStore.open(config.dataDir);
  const app = await buildServer({ mirror, store, config, logger: silentLogger });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await store.close();
  });
  return base;
}

/** Every file name under the store (blobs and temp files). */
async function storeFiles(dataDir: string): Promise<string[]> {
  const entries = await readdir(join(dataDir, 'store'), { recursive: true, withFileTypes: true }).catch(
    () => [],
  );
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

function heldBack(report: SyncReport): Record<string, string> {
  return Object.fromEntries(report.heldBack.map((h) => [h.patchId, h.error]));
}

function published(mirror: MirrorService): string[] {
  return (mirror.current()?.catalog.patches ?? []).map((p) => p.id);
}

function goodSize(id: string): number {
  return Buffer.byteLength(`#!/bin/sh\necho ${id} "$1"\n`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

t.test(
  'an http feed naming file:///…/secret and a file on another origin: held back, nothing fetched',
  async (t) => {
    const s = await scene(t);
    const upstream = await serve(t, s.feedDir);
    const otherUrl = `${s.other.url}payload.sh`;
    await writeHostileFeed(
      s.feedDir,
      1,
      ['GOOD1'],
      [
        { id: 'EVILFILE', url: s.secretUrl, content: SECRET },
        { id: 'EVILORIGIN', url: otherUrl, content: PAYLOAD },
      ],
    );
    const config = testConfig(s.dataDir, upstream.url);
    const mirror = await openMirror(t, config);
    const base = await serveApi(t, mirror, config);

    const report = await mirror.startSync();
    t.same(published(mirror), ['GOOD1'], 'only the good patch is published');
    t.equal(report.outcome, 'partial');
    const held = heldBack(report);
    t.same(Object.keys(held).sort(), ['EVILFILE', 'EVILORIGIN']);
    t.match(
      held.EVILFILE,
      new RegExp(`file url ${escape(s.secretUrl)} is refused: file: urls are read only for a file: feed`),
    );
    const origin = new URL(upstream.url).origin;
    t.match(
      held.EVILORIGIN,
      `${otherUrl} is not the feed's origin ${origin} or in upstream.allowedOrigins`,
      'the error says why',
    );
    t.same(s.other.requests, [], 'the other origin was never asked for anything');
    t.equal(report.filesFetched, 1);
    t.equal(report.bytesFetched, goodSize('GOOD1'), 'not a byte of the secret or the payload was read');
    const inStore = await storeFiles(s.dataDir);
    t.notOk(inStore.includes(sha256(SECRET)), 'the secret is not in the store');
    t.notOk(inStore.includes(sha256(PAYLOAD)), 'the payload is not in the store');
    t.notOk(
      inStore.some((name) => name.includes('.part')),
      'no partial download left behind',
    );

    const status = await fetch(`${base}/v1/status`);
    const statusText = await status.text();
    const lastSync = (JSON.parse(statusText) as { lastSync: SyncReport }).lastSync;
    t.same(lastSync.heldBack, report.heldBack, '/v1/status shows the held-back patches and why');
    t.notOk(statusText.includes('hunter2'), '/v1/status says nothing of the secret');
    t.equal((await fetch(`${base}/v1/blobs/sha256/${sha256(SECRET)}`)).status, 404);
    t.equal((await fetch(`${base}/v1/blobs/sha256/${sha256(PAYLOAD)}`)).status, 404);
  },
);

t.test('the three-sync attack on keys/mirror.key: refused at the first sync, nothing leaks', async (t) => {
  const s = await scene(t);
  const upstream = await serve(t, s.feedDir);
  const config = testConfig(s.dataDir, upstream.url);
  const mirror = await openMirror(t, config);
  const base = await serveApi(t, mirror, config);
  const keyPath = join(s.dataDir, 'keys', 'mirror.key');
  const key = await readFile(keyPath);
  const keyUrl = pathToFileURL(keyPath).href;

  // Round 1 claims a wrong size (the error would tell the real one), round 2 the size and a
  // wrong digest (the error would tell the real one), round 3 both: the key is then a blob.
  // Whatever the status does not tell, the attacker is granted (the real values).
  let size = 1;
  let digest = '0'.repeat(64);
  for (let round = 1; round <= 3; round++) {
    await writeHostileFeed(
      s.feedDir,
      round,
      ['GOOD1'],
      [{ id: 'STEALKEY', url: keyUrl, content: key, size, sha256: digest }],
    );
    const report = await mirror.startSync();
    const statusText = await (await fetch(`${base}/v1/status`)).text();
    const error = heldBack(report).STEALKEY ?? '';
    t.match(error, `file url ${keyUrl} is refused`, `round ${round}: refused, saying why`);
    t.notOk(statusText.includes(sha256(key)), `round ${round}: the key's digest is not shown`);
    t.notOk(statusText.includes('PRIVATE KEY'), `round ${round}: no key bytes are shown`);
    const toldSize = /(\d+) so far|is (\d+) bytes/.exec(error);
    size = toldSize ? Number(toldSize[1] ?? toldSize[2]) : key.length;
    digest = /has SHA-256 ([0-9a-f]{64})/.exec(error)?.[1] ?? sha256(key);
  }
  t.notOk(published(mirror).includes('STEALKEY'));
  t.notOk((await storeFiles(s.dataDir)).includes(sha256(key)), 'the key never entered the store');
  const blob = await fetch(`${base}/v1/blobs/sha256/${sha256(key)}`);
  t.equal(blob.status, 404, 'the mirror key is not served');
});

t.test('upstream.allowedOrigins lets a second origin through', async (t) => {
  const s = await scene(t);
  const upstream = await serve(t, s.feedDir);
  const otherUrl = `${s.other.url}payload.sh`;
  await writeHostileFeed(s.feedDir, 1, ['GOOD1'], [{ id: 'CDN', url: otherUrl, content: PAYLOAD }]);
  const mirror = await openMirror(
    t,
    testConfig(s.dataDir, upstream.url, { allowedOrigins: [new URL(s.other.url).origin] }),
  );
  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? JSON.stringify(report.heldBack));
  t.same(published(mirror), ['GOOD1', 'CDN']);
  t.same(s.other.requests, ['/payload.sh'], 'fetched from the allowed origin');
  t.ok(await mirror.blobPath(sha256(PAYLOAD)));
});

t.test('redirects: off the origin and to file: are refused, within it followed', async (t) => {
  const s = await scene(t);
  const upstream = await serve(t, s.feedDir);
  const origin = new URL(upstream.url).origin;
  const otherUrl = `${s.other.url}payload.sh`;
  await writeHostileFeed(s.feedDir, 1, ['GOOD1', 'MOVED', 'AWAY', 'TOFILE'], []);
  // The files of three good-looking patches answer with redirects.
  upstream.faults.set('/files/MOVED/MOVED.sh', { status: 301, location: '/files/GOOD1/GOOD1.sh' });
  upstream.faults.set('/files/AWAY/AWAY.sh', { status: 302, location: otherUrl });
  upstream.faults.set('/files/TOFILE/TOFILE.sh', { status: 307, location: s.secretUrl });
  // The feed claims the bytes the redirects lead to (the attacker knows them).
  const feed = JSON.parse(await readFile(join(s.feedDir, 'feed.json'), 'utf8')) as Feed;
  const claim = (id: string, content: string) => {
    const file = feed.patches.find((p) => p.id === id)!.files[0]!;
    file.size = Buffer.byteLength(content);
    file.sha256 = sha256(content);
  };
  claim('MOVED', `#!/bin/sh\necho GOOD1 "$1"\n`);
  claim('AWAY', PAYLOAD);
  claim('TOFILE', SECRET);
  // Two patches with the same file would share one job: MOVED names GOOD1's bytes, so drop GOOD1.
  feed.patches = feed.patches.filter((p) => p.id !== 'GOOD1');
  await writeFile(join(s.feedDir, 'feed.json'), JSON.stringify(feed));

  const mirror = await openMirror(t, testConfig(s.dataDir, upstream.url));
  const report = await mirror.startSync();
  t.same(published(mirror), ['MOVED'], 'a redirect within the origin is followed');
  const held = heldBack(report);
  t.match(
    held.AWAY,
    `redirect from ${origin}/files/AWAY/AWAY.sh to ${otherUrl} refused: ${otherUrl} is not the feed's origin ${origin}`,
  );
  t.match(
    held.TOFILE,
    `redirect from ${origin}/files/TOFILE/TOFILE.sh to ${s.secretUrl} refused: a redirect may not change the scheme (http: to file:)`,
  );
  t.same(s.other.requests, [], 'the other origin was never asked');
  const inStore = await storeFiles(s.dataDir);
  t.notOk(inStore.includes(sha256(SECRET)));
  t.notOk(inStore.includes(sha256(PAYLOAD)));

  await t.test('a redirect to an allowed origin is followed', async (t) => {
    const dataDir = join(s.root, 'data-allowed');
    const allowed = await openMirror(
      t,
      testConfig(dataDir, upstream.url, { allowedOrigins: [new URL(s.other.url).origin] }),
    );
    const again = await allowed.startSync();
    t.same(Object.keys(heldBack(again)), ['TOFILE'], 'file: stays refused');
    t.same(published(allowed), ['MOVED', 'AWAY']);
    t.same(s.other.requests, ['/payload.sh']);
  });
});

t.test(
  'feed.json redirected to another origin: the sync fails, the other origin is never asked',
  async (t) => {
    const s = await scene(t);
    const upstream = await serve(t, s.feedDir);
    await writeHostileFeed(s.feedDir, 1, ['GOOD1'], []);
    // The other origin holds a complete feed of its own.
    await writeHostileFeed(join(s.root, 'other'), 5, ['OTHER1'], []);
    upstream.faults.set('/feed.json', { status: 302, location: `${s.other.url}feed.json` });
    const mirror = await openMirror(t, testConfig(s.dataDir, upstream.url));
    const report = await mirror.startSync();
    t.equal(report.outcome, 'failed');
    t.match(
      report.error,
      `redirect from ${upstream.url}feed.json to ${s.other.url}feed.json refused: ${s.other.url}feed.json is not the feed's origin`,
    );
    t.same(s.other.requests, []);
    t.equal(mirror.current(), null, 'nothing published');
  },
);

t.test(
  'a file: feed: symlinks out of it, ../ and file:///… outside are refused; a link inside is followed',
  async (t) => {
    const s = await scene(t);
    await writeHostileFeed(s.feedDir, 1, ['GOOD1'], []);
    // A link inside the feed directory to another file inside it: fine.
    await mkdir(join(s.feedDir, 'files', 'INLINK'), { recursive: true });
    await symlink(join(s.feedDir, 'files', 'GOOD1', 'GOOD1.sh'), join(s.feedDir, 'files', 'INLINK', 'x.sh'));
    // A link to the secret, and a linked directory holding it.
    await mkdir(join(s.feedDir, 'files', 'LINK'), { recursive: true });
    await symlink(s.secretPath, join(s.feedDir, 'files', 'LINK', 'LINK.sh'));
    await symlink(s.root, join(s.feedDir, 'files', 'DIRLINK'));
    const feed = JSON.parse(await readFile(join(s.feedDir, 'feed.json'), 'utf8')) as Feed;
    const good = feed.patches[0]!;
    const evil = (id: string, url: string, content: string) => ({
      ...good,
      id,
      files: [{ name: `${id}.sh`, url, size: Buffer.byteLength(content), sha256: sha256(content) }],
      install: { command: ['sh', `{file:${id}.sh}`, 'install'] },
    });
    // INLINK names GOOD1's bytes through the link: it is its own job only when GOOD1 is absent.
    feed.patches = [
      evil('INLINK', 'files/INLINK/x.sh', `#!/bin/sh\necho GOOD1 "$1"\n`),
      evil('LINK', 'files/LINK/LINK.sh', SECRET),
      evil('DIRLINK', 'files/DIRLINK/secret.txt', SECRET),
      evil('DOTDOT', '../secret.txt', SECRET),
      evil('ABSOLUTE', s.secretUrl, SECRET),
    ];
    await writeFile(join(s.feedDir, 'feed.json'), JSON.stringify(feed));

    const mirror = await openMirror(t, testConfig(s.dataDir, pathToFileURL(s.feedDir).href));
    const report = await mirror.startSync();
    t.same(published(mirror), ['INLINK'], 'a link that stays inside is followed');
    const held = heldBack(report);
    t.same(Object.keys(held).sort(), ['ABSOLUTE', 'DIRLINK', 'DOTDOT', 'LINK']);
    const linkUrl = pathToFileURL(join(s.feedDir, 'files', 'LINK', 'LINK.sh')).href;
    t.match(
      held.LINK,
      `file url ${linkUrl} is outside the feed directory ${s.feedDir}: a symlink leads out of it`,
    );
    t.match(held.DIRLINK, `is outside the feed directory ${s.feedDir}: a symlink leads out of it`);
    t.match(held.DOTDOT, `file url ${s.secretUrl} is outside the feed directory ${s.feedDir}`);
    t.match(held.ABSOLUTE, `file url ${s.secretUrl} is outside the feed directory ${s.feedDir}`);
    t.equal(report.bytesFetched, goodSize('GOOD1'), 'only the file inside was read');
    t.notOk((await storeFiles(s.dataDir)).includes(sha256(SECRET)), 'the secret is not in the store');
  },
);

t.test("a hostile parent mirror's catalog: file: and other-origin urls are refused", async (t) => {
  const s = await scene(t);
  const parentDir = join(s.root, 'parent');
  const feed = buildFeed({
    sequence: 9,
    patches: [
      simplePatch('GOOD1'),
      { id: 'EVILFILE', files: [{ name: 'EVILFILE.sh', content: SECRET }] },
      { id: 'EVILORIGIN', files: [{ name: 'EVILORIGIN.sh', content: PAYLOAD }] },
    ],
  });
  const catalog = buildCatalog(feed, new Set(), {
    sequence: 42,
    publishedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    mirrorChain: ['fedcba9876543210'],
  });
  const goodFile = catalog.patches[0]!.files[0]!;
  catalog.patches[1]!.files[0]!.url = s.secretUrl;
  catalog.patches[2]!.files[0]!.url = `${s.other.url}payload.sh`;
  await mkdir(join(parentDir, 'v1', 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(parentDir, 'v1', 'catalog'), JSON.stringify(catalog));
  await writeFile(join(parentDir, 'v1', 'blobs', 'sha256', goodFile.sha256), `#!/bin/sh\necho GOOD1 "$1"\n`);
  const parent = await serve(t, parentDir);

  const mirror = await openMirror(t, testConfig(s.dataDir, `${parent.url}v1/catalog`));
  const report = await mirror.startSync();
  t.same(published(mirror), ['GOOD1'], "the parent's own blob is mirrored");
  const held = heldBack(report);
  t.match(held.EVILFILE, `file url ${s.secretUrl} is refused: file: urls are read only for a file: feed`);
  t.match(held.EVILORIGIN, `is not the feed's origin ${new URL(parent.url).origin}`);
  t.same(s.other.requests, []);
  const inStore = await storeFiles(s.dataDir);
  t.notOk(inStore.includes(sha256(SECRET)));
  t.notOk(inStore.includes(sha256(PAYLOAD)));
});

t.test(
  'a hostile import bundle: a symlink (to a file or a directory) out of it is refused, nothing merged',
  async (t) => {
    const s = await scene(t);
    const bundle = s.feedDir;
    await writeHostileFeed(bundle, 3, ['GOOD1'], []);
    await mkdir(join(bundle, 'files', 'LINK'), { recursive: true });
    await symlink(s.secretPath, join(bundle, 'files', 'LINK', 'LINK.sh'));
    await symlink(s.root, join(bundle, 'files', 'DIRLINK'));
    const feed = JSON.parse(await readFile(join(bundle, 'feed.json'), 'utf8')) as Feed;
    const good = feed.patches[0]!;
    const evil = (id: string, url: string) => ({
      ...good,
      id,
      files: [{ name: `${id}.sh`, url, size: Buffer.byteLength(SECRET), sha256: sha256(SECRET) }],
      install: { command: ['sh', `{file:${id}.sh}`, 'install'] },
    });

    for (const [id, url] of [
      ['LINK', 'files/LINK/LINK.sh'],
      ['DIRLINK', 'files/DIRLINK/secret.txt'],
    ] as const) {
      await t.test(`${id}`, async (t) => {
        await writeFile(
          join(bundle, 'feed.json'),
          JSON.stringify({ ...feed, patches: [good, evil(id, url)] }),
        );
        const dataDir = join(s.root, `import-${id}`);
        let error: unknown;
        try {
          await runImport(importConfig(dataDir), silentLogger, [bundle]);
        } catch (err) {
          error = err;
        }
        t.ok(isPatchbayError(error), `refused: ${String(error)}`);
        t.equal((error as { code?: string }).code, 'PB_ERR_IMPORT_REFUSED');
        // refused before anything is read: a directory bundle may hold no link at all (as a tar)
        t.match(
          (error as Error).message,
          `${bundle} holds entries that are not plain files or directories: files/DIRLINK (symbolic link), ` +
            'files/LINK/LINK.sh (symbolic link); links in a bundle are refused, not followed',
        );
        const inStore = await storeFiles(dataDir);
        t.notOk(inStore.includes(sha256(SECRET)), 'the secret is not in the store');
        t.same(
          inStore.filter((name) => name.length === 64),
          [],
          'nothing merged',
        );
        await readFile(join(dataDir, 'catalog', 'current.json')).then(
          () => t.fail('a catalog was published'),
          () => t.pass('no catalog published'),
        );
      });
    }
  },
);

t.test('size and SHA-256 mismatch errors name sizes and digests, never the bytes', async (t) => {
  const s = await scene(t);
  const upstream = await serve(t, s.feedDir);
  // Files on the feed's own origin whose claims are wrong: the size, then the digest.
  await mkdir(join(s.feedDir, 'files'), { recursive: true });
  await writeFile(join(s.feedDir, 'files', 'secretish.txt'), SECRET);
  await writeHostileFeed(
    s.feedDir,
    1,
    [],
    [
      { id: 'SIZE', url: 'files/secretish.txt', content: SECRET, size: 10, sha256: '1'.repeat(64) },
      { id: 'DIGEST', url: `files/secretish.txt?again`, content: SECRET, sha256: '2'.repeat(64) },
    ],
  );
  const config = testConfig(s.dataDir, upstream.url);
  const mirror = await openMirror(t, config);
  const base = await serveApi(t, mirror, config);
  const report = await mirror.startSync();
  const held = heldBack(report);
  t.match(held.SIZE, /expected 10/);
  t.match(held.DIGEST, /has SHA-256 [0-9a-f]{64}, expected 2{64}/);
  const statusText = await (await fetch(`${base}/v1/status`)).text();
  t.notOk(statusText.includes('hunter2'), 'no content in /v1/status');
  t.notOk(statusText.includes('must never be mirrored'));
});
