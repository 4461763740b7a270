// End to end, every bad input of the end-to-end issue against the real programs: each gets a
// clear error, nothing is lost, and what was published before keeps being served.
// On trust v2 a vendor feed is read only by `patchbay-publish import-feed`, off the DMZ: the bad
// feeds and bad files are its refusals (exit 1 naming the problem, nothing published). A feed
// whose sequence goes back or is replayed with other bytes is refused only by a staging server
// that reads the feed itself (v1 feed upstream): that part stays on the v1 stack.
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { signDetached } from '@patchbay/core';
import { demoVendorKeyFiles } from '@patchbay/sample-feed';
import { BIN, run } from './helpers/processes.js';
import {
  runImportFeed,
  startStack,
  startUpstream,
  type Stack,
  type StatusDocument,
} from './helpers/stack.js';

type Json = Record<string, unknown>;
interface FeedFile {
  name: string;
  url: string;
  size: number;
  sha256: string;
}
interface FeedPatch extends Json {
  id: string;
  files: FeedFile[];
  requires?: string[];
}
interface Feed extends Json {
  sequence: number;
  patches: FeedPatch[];
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The feed in the stack's feed dir, and a way to replace it (signed by the demo vendor key). */
function feedWriter(stack: Stack, sign: boolean) {
  const feedPath = path.join(stack.feedDir, 'feed.json');
  const original = fs.readFileSync(feedPath, 'utf8');
  const vendorKey = fs.readFileSync(demoVendorKeyFiles().privateKey, 'utf8');
  return {
    feed: (): Feed => JSON.parse(original) as Feed,
    publish: (body: string | Feed) => {
      const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body, null, 2));
      if (sign) fs.writeFileSync(`${feedPath}.sig`, signDetached(bytes, vendorKey));
      fs.writeFileSync(feedPath, bytes);
    },
  };
}

/** Every file of a publisher's repository (metadata and targets) with its digest. */
function repositoryFiles(repoDir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else files.set(path.relative(repoDir, file), sha256(fs.readFileSync(file)));
    }
  };
  walk(path.join(repoDir, 'metadata'));
  walk(path.join(repoDir, 'targets'));
  return files;
}

/** The bad feeds: each refused whole (the name, a builder from the good feed, the reason). */
function badFeeds(feed: () => Feed): [string, () => string | Feed, RegExp][] {
  return [
    ['not JSON', () => '{ "format": "patchbay-feed/1", ', /JSON/],
    [
      'schema violation',
      () => {
        const f = feed();
        f.sequence = 8;
        f.patches[0]!.severity = 'urgent';
        return f;
      },
      /\/patches\/0\/severity/,
    ],
    [
      'duplicate patch ids',
      () => {
        const f = feed();
        f.sequence = 8;
        f.patches[1]!.id = f.patches[0]!.id;
        return f;
      },
      new RegExp(`duplicate.*${feed().patches[0]!.id}|${feed().patches[0]!.id}.*duplicate`, 'i'),
    ],
    [
      'file name with a slash',
      () => {
        const f = feed();
        f.sequence = 8;
        f.patches[0]!.files[0]!.name = 'sub/evil.sh';
        return f;
      },
      /name/,
    ],
    [
      'file name with a backslash',
      () => {
        const f = feed();
        f.sequence = 8;
        f.patches[0]!.files[0]!.name = 'sub\\evil.sh';
        return f;
      },
      /name/,
    ],
    [
      'file name with ..',
      () => {
        const f = feed();
        f.sequence = 8;
        f.patches[0]!.files[0]!.name = '..';
        return f;
      },
      /name/,
    ],
    [
      'negative size',
      () => {
        const f = feed();
        f.sequence = 8;
        f.patches[0]!.files[0]!.size = -1;
        return f;
      },
      /size/,
    ],
    [
      'absurd size',
      () => {
        const f = feed();
        f.sequence = 8;
        f.patches[0]!.files[0]!.size = 1e15;
        return f;
      },
      /size/,
    ],
  ];
}

t.test('bad feeds and files are refused by import-feed; bad requests and configs on trust v2', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir, { releases: ['19.0'] });
  t.teardown(stack.stop);
  const repoDir = stack.repoDir!;
  // the vendor's site: the feed dir over HTTP, as import-feed reads a vendor feed
  const vendorSite = await startUpstream(stack.feedDir);
  t.teardown(() => vendorSite.stop());
  const { feed, publish } = feedWriter(stack, true);
  const importFeed = (extra: string[] = []) => runImportFeed(repoDir, `${vendorSite.url}/`, extra);
  const served = () => stack.getJson<{ upstreamSequence: number; patches: { id: string }[] }>('/v1/catalog');
  const before = await served();
  t.equal(before.upstreamSequence, 2, 'the publisher targets version (init, import-feed)');
  const published = repositoryFiles(repoDir);

  for (const [what, make, expected] of badFeeds(feed)) {
    await t.test(what, async (t) => {
      publish(make());
      const res = await importFeed();
      t.equal(res.code, 1, 'import-feed exits 1');
      t.match(res.stdout + res.stderr, expected, `names the reason: ${res.stderr.trim()}`);
      t.same(repositoryFiles(repoDir), published, 'nothing published');
    });
  }

  await t.test("a feed.json.sig that is not the vendor key's", async (t) => {
    const f = feed();
    f.sequence = 8;
    publish(f);
    fs.writeFileSync(
      path.join(stack.feedDir, 'feed.json.sig'),
      signDetached(Buffer.from('other bytes'), fs.readFileSync(demoVendorKeyFiles().privateKey, 'utf8')),
    );
    const res = await importFeed();
    t.equal(res.code, 1, 'import-feed exits 1');
    t.match(res.stdout + res.stderr, /signature/, `names the reason: ${res.stderr.trim()}`);
    t.same(repositoryFiles(repoDir), published, 'nothing published');
  });

  await t.test('after the refusals the staging server still serves what was published', async (t) => {
    const sync = await stack.syncNow();
    t.equal(sync.outcome, 'ok');
    t.equal(sync.upstreamSequence, 2, 'the same targets version');
    const status = await stack.getJson<StatusDocument>('/v1/status');
    t.equal(status.mirror.sequence, 1, 'nothing new published');
    t.same(await served(), before, 'the previous catalog is still served');
    const ready = await fetch(`${stack.server.url}/readyz`);
    t.equal(ready.status, 200, 'still ready');
  });

  await t.test('a bad file leaves out its patch and its dependants; the rest publish', async (t) => {
    const f = feed();
    f.sequence = 9;
    const template = f.patches.find((p) => p.id === 'T5KB0209')!;
    const good = 'echo good\n';
    const bad = 'echo these bytes are not what the feed says\n';
    const make = (id: string, file: FeedFile, requires?: string[]): FeedPatch => ({
      ...template,
      id,
      title: `test patch ${id}`,
      requires,
      files: [file],
      install: { command: ['sh', `{file:${file.name}}`] },
      detect: undefined,
    });
    fs.writeFileSync(path.join(stack.feedDir, 'files', 'digest.sh'), bad);
    fs.writeFileSync(path.join(stack.feedDir, 'files', 'size.sh'), good);
    // T5KB0902's file has its own digest (two patches naming one digest with different sizes
    // are covered in packages/publisher/test/import-feed.test.ts)
    const ok = 'echo ok\n';
    fs.writeFileSync(path.join(stack.feedDir, 'files', 'ok.sh'), ok);
    const fine = 'echo fine\n';
    fs.writeFileSync(path.join(stack.feedDir, 'files', 'fine.sh'), fine);
    f.patches.push(
      make('T5KB0901', {
        name: 'digest.sh',
        url: 'files/digest.sh',
        size: Buffer.byteLength(bad),
        sha256: sha256(good),
      }),
      make(
        'T5KB0902',
        { name: 'ok.sh', url: 'files/ok.sh', size: Buffer.byteLength(ok), sha256: sha256(ok) },
        ['T5KB0901'],
      ),
      make('T5KB0903', {
        name: 'size.sh',
        url: 'files/size.sh',
        size: Buffer.byteLength(good) + 5,
        sha256: sha256(good),
      }),
      make('T5KB0904', { name: 'gone.sh', url: 'files/gone.sh', size: 3, sha256: sha256('abc') }),
      make('T5KB0905', {
        name: 'fine.sh',
        url: 'files/fine.sh',
        size: Buffer.byteLength(fine),
        sha256: sha256(fine),
      }),
    );
    publish(f);
    const res = await importFeed(['--json']);
    t.equal(res.code, 1, 'import-feed exits 1: patches were left out');
    const outcome = JSON.parse(res.stdout) as { ok: boolean; skipped: { patchId: string; error: string }[] };
    t.equal(outcome.ok, false);
    const held = new Map(outcome.skipped.map((h) => [h.patchId, h.error]));
    t.match(held.get('T5KB0901'), /sha-?256|digest/i, 'digest mismatch named');
    t.match(held.get('T5KB0902'), /T5KB0901/, 'the dependant is left out, naming its requirement');
    t.match(held.get('T5KB0903'), /size/i, 'size mismatch named');
    t.match(held.get('T5KB0904'), /404/, 'vendor site 404 named');
    t.equal(held.size, 4, 'nothing else left out');

    const sync = await stack.syncNow();
    t.equal(sync.outcome, 'ok');
    t.same(sync.heldBack, [], 'the staging server holds back nothing: it got only verified patches');
    const catalog = await served();
    t.ok(
      catalog.patches.some((p) => p.id === 'T5KB0905'),
      'the rest published: the good new patch is served',
    );
    const ids = catalog.patches.map((p) => p.id);
    for (const id of before.patches.map((p) => p.id)) t.ok(ids.includes(id), `${id} still served`);
    for (const id of held.keys()) t.notOk(ids.includes(id), `${id} not in the catalog`);
    const badDigest = sha256(bad);
    const serverBlob = path.join(
      dir,
      'server-data',
      'store',
      'blobs',
      'sha256',
      badDigest.slice(0, 2),
      badDigest,
    );
    t.notOk(fs.existsSync(serverBlob), 'the bad bytes never entered the server store');
    t.notOk([...repositoryFiles(repoDir).values()].includes(badDigest), 'nor the publisher repository');
  });

  await t.test('upstream 500 and connection refused fail the sync with the reason', async (t) => {
    const failing = http.createServer((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => failing.close(() => r())));
    const port = (failing.address() as AddressInfo).port;
    const dataDir = t.testdir();
    const five = await run(BIN.server, [
      '--config',
      stack.serverConfig,
      '--data-dir',
      dataDir,
      '--upstream',
      `http://127.0.0.1:${port}/`,
      'sync',
    ]);
    t.equal(five.code, 1);
    t.match(five.stdout + five.stderr, /500/);

    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await run(BIN.server, [
      '--config',
      stack.serverConfig,
      '--data-dir',
      dataDir,
      '--upstream',
      `http://127.0.0.1:${closedPort}/`,
      'sync',
    ]);
    t.equal(refused.code, 1);
    t.match(refused.stdout + refused.stderr, /ECONNREFUSED|refused|connect/i);
  });

  await t.test('malformed and unknown blob digests', async (t) => {
    for (const bad of [
      'abc',
      'A'.repeat(64),
      'g'.repeat(64),
      '..%2F..%2Fetc%2Fpasswd',
      `${'a'.repeat(64)}x`,
    ]) {
      const res = await fetch(`${stack.server.url}/v1/blobs/sha256/${bad}`);
      t.equal(res.status, 400, `400 for ${bad}`);
      const body = (await res.json()) as { statusCode: number; message: string };
      t.equal(body.statusCode, 400);
    }
    const unknown = await fetch(`${stack.server.url}/v1/blobs/sha256/${'0'.repeat(64)}`);
    t.equal(unknown.status, 404);
  });

  await t.test('invalid and oversized reports', async (t) => {
    const url = `${stack.server.url}/v1/clients/host-x/report`;
    const put = (body: string) =>
      fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
    const report = {
      hostId: 'host-x',
      hostname: 'host-x.corp',
      daemonVersion: '0.1.0',
      platform: 'linux',
      reportedAt: new Date().toISOString(),
      products: [{ id: 'arcserve-backup', release: '19.0' }],
      patches: [],
      events: [{ seq: 'one', type: 'check', at: new Date().toISOString(), outcome: 'ok' }],
    };
    const invalid = await put(JSON.stringify(report));
    t.equal(invalid.status, 400);
    t.match(((await invalid.json()) as { message: string }).message, /events\/0\/seq/);
    const notJson = await put('{ nope');
    t.equal(notJson.status, 400);
    // the server answers 413 as soon as the length is over the limit and closes: the client may
    // still be writing the body then and see EPIPE/ECONNRESET instead of the answer (a race)
    const huge = await put(
      JSON.stringify({ ...report, events: [], padding: 'x'.repeat(2 * 1024 * 1024) }),
    ).then(
      (res) => res.status,
      (err: unknown) => String((err as { cause?: { code?: string } }).cause?.code ?? err),
    );
    t.match(String(huge), /^(413|EPIPE|ECONNRESET)$/, `oversized report refused: ${huge}`);
    const clients = await stack.getJson<{ hostId: string }[]>('/v1/clients');
    t.notOk(
      clients.some((c) => c.hostId === 'host-x'),
      'nothing half-stored',
    );
  });

  await t.test('bad config keys stop both programs with exit 2 naming the key', async (t) => {
    const badServer = path.join(dir, 'bad-server.json');
    fs.writeFileSync(badServer, JSON.stringify({ upstrem: { url: 'http://127.0.0.1:1/' } }));
    const server = await run(BIN.server, ['--config', badServer, 'sync']);
    t.equal(server.code, 2);
    t.match(server.stderr, /upstrem/);

    const mistyped = path.join(dir, 'mistyped-server.json');
    fs.writeFileSync(mistyped, JSON.stringify({ listen: { port: 'eighty' } }));
    const typed = await run(BIN.server, ['--config', mistyped, 'sync']);
    t.equal(typed.code, 2);
    t.match(typed.stderr, /port/);

    const client = stack.writeClientConfig('host-bad', '19.0', { polcy: { autoInstall: 'none' } });
    const res = await run(BIN.client, ['--config', client.config, 'check']);
    t.equal(res.code, 2);
    t.match(res.stderr, /polcy/);
  });

  await t.test('unknown patch ids and unknown products on the client', async (t) => {
    const client = stack.writeClientConfig('host-ok', '19.0');
    const unknownPatch = await run(BIN.client, ['--config', client.config, 'install', 'T5KB9999']);
    t.equal(unknownPatch.code, 2);
    t.match(unknownPatch.stderr, /T5KB9999/);

    const product = stack.writeClientConfig('host-product', '19.0', {
      products: [{ id: 'arcserve-nothing', release: '1.0', installDir: './sandbox' }],
    });
    const unknownProduct = await run(BIN.client, ['--config', product.config, 'check']);
    t.equal(unknownProduct.code, 2);
    t.match(unknownProduct.stderr, /arcserve-nothing/);

    const release = stack.writeClientConfig('host-release', '17.5');
    const unknownRelease = await run(BIN.client, ['--config', release.config, 'check']);
    t.equal(unknownRelease.code, 2);
    t.match(unknownRelease.stderr, /17\.5/);
  });

  await t.test('unknown flags are bad usage', async (t) => {
    const res = await run(BIN.server, ['--frobnicate', 'sync']);
    t.equal(res.code, 2);
    t.match(res.stderr, /frobnicate/);
    const client = await run(BIN.client, ['--server', stack.server.url, 'status', '--bogus']);
    t.equal(client.code, 2);
    t.match(client.stderr, /bogus/);
    // --server takes what the config's server takes: http(s), or file: (a repository on media)
    const ftp = await run(BIN.client, ['--server', 'ftp://127.0.0.1/feed', 'status']);
    t.equal(ftp.code, 2);
    t.match(ftp.stderr, /--server ftp:\/\/127\.0\.0\.1\/feed: not an http\(s\) or file: URL/);
    const host = stack.writeClientConfig('host-file-server', '19.0');
    const media = await run(BIN.client, [
      '--config',
      host.config,
      '--server',
      'file:///nonexistent/feed',
      'check',
    ]);
    t.notMatch(media.stderr, /not an http/, 'a file: URL is not bad usage');
    t.equal(media.code, 1, 'it fails as a server that does not answer');
  });
});

// A staging server reading a feed itself (its v1 feed upstream) refuses a sequence that goes
// back or a replayed sequence with other bytes; import-feed has no such check (it publishes
// whatever signed feed it is given).
t.test('v1 feed upstream: a sequence going back or replayed with other bytes is refused whole', async (t) => {
  const stack = await startStack(t.testdir(), { upstream: 'feed', releases: ['19.0'] });
  t.teardown(stack.stop);
  const { feed, publish } = feedWriter(stack, false);
  const catalogSequence = async () =>
    (await stack.getJson<{ sequence: number; upstreamSequence: number }>('/v1/catalog')).upstreamSequence;

  const refusals: [string, () => Feed, RegExp][] = [
    [
      'sequence going back',
      () => {
        const f = feed();
        f.sequence = 6;
        return f;
      },
      /sequence/i,
    ],
    [
      'same sequence, other bytes',
      () => {
        const f = feed();
        f.vendor = 'Someone Else';
        return f;
      },
      /sequence/i,
    ],
  ];

  for (const [what, make, expected] of refusals) {
    await t.test(what, async (t) => {
      publish(make());
      const sync = await stack.syncNow();
      t.equal(sync.outcome, 'failed');
      t.match(sync.error, expected, `error names the reason: ${sync.error}`);
      const status = await stack.getJson<StatusDocument>('/v1/status');
      t.equal(status.lastSync?.outcome, 'failed', '/v1/status shows the failure');
      t.equal(status.mirror.sequence, 1, 'nothing new published');
      t.equal(await catalogSequence(), 7, 'the previous catalog is still served');
      const ready = await fetch(`${stack.server.url}/readyz`);
      t.equal(ready.status, 200, 'still ready');
    });
  }
});
