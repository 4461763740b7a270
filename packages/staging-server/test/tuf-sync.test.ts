// Trust v2 on the staging server, end to end over loopback HTTP: a TUF upstream built with
// @patchbay/core/tuf, a sync, and the server's own repository verified by tuf-js's Updater as a
// host would (root chain, a product's descriptor, a downloaded target file).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { ContentStore } from '@patchbay/core';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import {
  buildUpstream,
  hostUpdater,
  newUpstreamKeys,
  script,
  serveDirectory,
  sha256,
  trustedSet,
} from './fixtures/tuf-upstream.js';
import { startTufServer, tufServerConfig } from './fixtures/tuf-server.js';

interface StatusBody {
  lastSync: { outcome: string; error: string | null; heldBack: { patchId: string; error: string }[] };
  trust?: {
    mode: string;
    rootVersion: number | null;
    targetsVersion: number | null;
    snapshotVersion: number | null;
    timestampVersion: number | null;
    timestampExpires: string | null;
    onlineKeyId: string;
  };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  return (await res.json()) as T;
}

t.test('a sync mirrors a TUF upstream; a host verifies the server with tuf-js', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  const keys = newUpstreamKeys();
  const trustedRoot = await buildUpstream(upstreamDir, keys, { onlineKey: online.publicKeyPem });
  const upstreamRequests: string[] = [];
  const upstreamUrl = await serveDirectory(t, upstreamDir, (path) => upstreamRequests.push(path));
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );

  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? 'sync ok');
  t.ok(report.published, 'published');
  t.equal(report.upstreamSequence, 1, 'upstream sequence: the targets version');
  t.ok(
    upstreamRequests.every((path) => path.startsWith('/metadata/') || path.startsWith('/targets/')),
    'only the upstream repository was fetched',
  );

  // Roles, targets and root byte for byte as the upstream signed them.
  for (const name of [
    '1.root.json',
    'root.json',
    '1.targets.json',
    '1.arcserve-backup~19.0.json',
    '1.arcserve-udp~9.0.json',
  ]) {
    const res = await fetch(`${server.base}/v1/tuf/metadata/${name}`);
    t.equal(res.status, 200, `${name} served`);
    t.ok(
      Buffer.from(await res.arrayBuffer()).equals(await readFile(join(upstreamDir, 'metadata', name))),
      `${name} byte for byte`,
    );
  }

  // A host: root chain from the upstream's root, timestamp and snapshot by the online key.
  const updater = await hostUpdater(server.base, join(root, 'host'), trustedRoot);
  await updater.refresh();
  const set = trustedSet(updater);
  t.ok(set.snapshot?.signatures[online.keyId], 'the snapshot is signed by the online key');
  t.ok(set.timestamp?.signatures[online.keyId], 'the timestamp is signed by the online key');
  t.same(Object.keys(set.snapshot!.signed.meta).sort(), [
    'arcserve-backup~19.0.json',
    'arcserve-udp~9.0.json',
    'targets.json',
  ]);

  // A product's descriptor, from the delegated role tuf-js verified.
  const info = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh');
  t.ok(info, 'the patch file is a verified target');
  const role = set.getRole('arcserve-backup~19.0')!.signed;
  const descriptor = role.targets['arcserve-backup/19.0/T5KB0042.json']!.custom.patchbay as {
    patch: { id: string; files: { sha256: string }[] };
  };
  t.equal(descriptor.patch.id, 'T5KB0042');
  t.equal(descriptor.patch.files[0]!.sha256, sha256(script('T5KB0042').bytes));

  // A target file, downloaded from /v1/tuf/targets/ and checked by tuf-js.
  const downloaded = await updater.downloadTarget(info!);
  t.ok(
    (await readFile(downloaded)).equals(script('T5KB0042').bytes),
    'the downloaded target is the patch file',
  );

  // /v1/status trust and the catalog for the admin views.
  const status = await getJson<StatusBody>(`${server.base}/v1/status`);
  t.match(status.trust, {
    mode: 'tuf',
    rootVersion: 1,
    targetsVersion: 1,
    snapshotVersion: 1,
    timestampVersion: 1,
    timestampExpires: String,
    onlineKeyId: online.keyId,
  });
  const catalog = await getJson<{ patches: { id: string; files: { url: string }[] }[] }>(
    `${server.base}/v1/catalog`,
  );
  t.same(catalog.patches.map((p) => p.id).sort(), ['T5KB0042', 'T5KB0043', 'UDP0001']);
  t.match(catalog.patches[0]!.files[0]!.url, /^\/v1\/blobs\/sha256\/[0-9a-f]{64}$/);

  // A second sync with nothing new publishes nothing.
  const again = await server.mirror.startSync();
  t.equal(again.outcome, 'ok');
  t.notOk(again.published, 'unchanged upstream: nothing published');
  t.equal((await getJson<StatusBody>(`${server.base}/v1/status`)).trust?.snapshotVersion, 1);
});

t.test('HTTP: names, ETags, caching, ranges and digests of /v1/tuf/', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  await buildUpstream(upstreamDir, newUpstreamKeys(), { onlineKey: online.publicKeyPem });
  const upstreamUrl = await serveDirectory(t, upstreamDir);
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );

  // Before the first publication there is nothing to serve.
  t.equal((await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`)).status, 404);
  t.equal((await server.mirror.startSync()).outcome, 'ok');

  const timestamp = await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`);
  t.equal(timestamp.status, 200);
  t.equal(timestamp.headers.get('cache-control'), 'no-cache');
  const etag = timestamp.headers.get('etag')!;
  const bytes = Buffer.from(await timestamp.arrayBuffer());
  t.equal(etag, `"${sha256(bytes)}"`, 'strong ETag: the SHA-256 of the bytes');
  t.equal(
    (await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`, { headers: { 'if-none-match': etag } }))
      .status,
    304,
  );
  // If-Match (RFC 9110 §13.1.1): a tag that is not the current one is 412, before If-None-Match
  const stale = await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`, {
    headers: { 'if-match': '"0000"', 'if-none-match': etag },
  });
  t.equal(stale.status, 412, 'If-Match with another tag: 412');
  t.equal(stale.headers.get('etag'), null, 'a 412 is not the file: no ETag');
  const current = { 'if-match': etag };
  t.equal((await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`, { headers: current })).status, 200);
  const post = await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  const snapshot = await fetch(`${server.base}/v1/tuf/metadata/1.snapshot.json`);
  t.equal(snapshot.status, 200);
  t.equal(snapshot.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.equal((await fetch(`${server.base}/v1/tuf/metadata/root.json`)).headers.get('cache-control'), 'no-cache');

  for (const name of [
    '1.timestamp.json',
    'snapshot.json',
    'targets.json',
    '2.snapshot.json',
    '0.root.json',
    'x.json',
    '..%2F..%2Fkeys%2Fonline.key',
    '1.arcserve-backup%7E19.0.json.tmp',
  ]) {
    t.equal((await fetch(`${server.base}/v1/tuf/metadata/${name}`)).status, 404, `${name}: 404`);
  }
  t.equal(
    (await fetch(`${server.base}/v1/tuf/metadata/1.arcserve-backup%7E19.0.json`)).status,
    200,
    'an encoded ~ names the same role',
  );

  // Targets: only the path the repository names, answered from the blob store.
  const file = script('T5KB0042').bytes;
  const hex = sha256(file);
  const url = `${server.base}/v1/tuf/targets/arcserve-backup/19.0/T5KB0042/${hex}.T5KB0042.sh`;
  const target = await fetch(url);
  t.equal(target.status, 200);
  t.ok(Buffer.from(await target.arrayBuffer()).equals(file));
  t.equal(target.headers.get('etag'), `"${hex}"`);
  t.equal(target.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const partial = await fetch(url, { headers: { range: 'bytes=2-5' } });
  t.equal(partial.status, 206);
  t.equal(partial.headers.get('content-range'), `bytes 2-5/${file.length}`);
  t.ok(Buffer.from(await partial.arrayBuffer()).equals(file.subarray(2, 6)));
  t.equal((await fetch(url, { method: 'HEAD' })).status, 200);
  t.equal(
    (await fetch(url, { headers: { 'if-match': `W/"${hex}"` } })).status,
    412,
    'If-Match: weak never matches',
  );
  t.equal((await fetch(url, { method: 'DELETE' })).headers.get('allow'), 'GET, HEAD');
  for (const wrong of [
    `arcserve-udp/9.0/UDP0001/${hex}.T5KB0042.sh`, // another path with this digest
    `arcserve-backup/19.0/T5KB0042/${hex}.other.sh`,
    `arcserve-backup/19.0/T5KB0042/${'0'.repeat(64)}.T5KB0042.sh`,
    `arcserve-backup/19.0/T5KB0042/T5KB0042.sh`,
  ]) {
    t.equal((await fetch(`${server.base}/v1/tuf/targets/${wrong}`)).status, 404, `${wrong}: 404`);
  }
  t.equal((await fetch(`${server.base}/v1/blobs/sha256/${hex}`)).status, 200, 'the same bytes as a blob');
});

t.test(
  'mirror.products: the snapshot lists only the selected role; a host of another product cannot load it',
  async (t) => {
    const root = t.testdir();
    const dataDir = join(root, 'data');
    const upstreamDir = join(root, 'upstream');
    const { key: online } = await ensureOnlineKey({ dataDir });
    const trustedRoot = await buildUpstream(upstreamDir, newUpstreamKeys(), {
      onlineKey: online.publicKeyPem,
    });
    const upstreamUrl = await serveDirectory(t, upstreamDir);
    const server = await startTufServer(
      t,
      tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json'), {
        mirror: { products: [{ id: 'arcserve-backup' }] },
      }),
    );
    const report = await server.mirror.startSync();
    t.equal(report.outcome, 'ok', report.error ?? '');

    const updater = await hostUpdater(server.base, join(root, 'host'), trustedRoot);
    await updater.refresh();
    t.same(Object.keys(trustedSet(updater).snapshot!.signed.meta).sort(), [
      'arcserve-backup~19.0.json',
      'targets.json',
    ]);
    t.ok(
      await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh'),
      'the selected product loads',
    );
    const udpHost = await hostUpdater(server.base, join(root, 'udp-host'), trustedRoot);
    await t.rejects(
      udpHost.getTargetInfo('arcserve-udp/9.0/UDP0001/UDP0001.sh'),
      'a host of another product cannot load its role',
    );
    t.equal(
      (await fetch(`${server.base}/v1/tuf/metadata/1.arcserve-udp~9.0.json`)).status,
      404,
      'its role file is not served',
    );

    const store = new ContentStore(join(dataDir, 'store'));
    t.notOk(await store.has(sha256(script('UDP0001').bytes)), 'its files were not downloaded');
    t.ok(await store.has(sha256(script('T5KB0042').bytes)));
    const catalog = await getJson<{ products: { id: string }[]; patches: { id: string }[] }>(
      `${server.base}/v1/catalog`,
    );
    t.same(catalog.patches.map((p) => p.id).sort(), ['T5KB0042', 'T5KB0043']);
    t.same(
      catalog.products.map((p) => p.id),
      ['arcserve-backup'],
      'the catalog names only the mirrored product',
    );
  },
);

t.test('a target whose bytes are wrong upstream is withheld; the rest is published', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  const damaged = {
    ...script('T5KB0042'),
    servedBytes: Buffer.from('#!/bin/sh\nrm -rf / # not what was signed\n'),
  };
  const trustedRoot = await buildUpstream(upstreamDir, newUpstreamKeys(), {
    onlineKey: online.publicKeyPem,
    patches: [
      { id: 'T5KB0042', product: 'arcserve-backup', release: '19.0', files: [damaged] },
      {
        id: 'T5KB0043',
        product: 'arcserve-backup',
        release: '19.0',
        requires: ['T5KB0042'],
        files: [script('T5KB0043')],
      },
      { id: 'UDP0001', product: 'arcserve-udp', release: '9.0', files: [script('UDP0001')] },
    ],
  });
  const upstreamUrl = await serveDirectory(t, upstreamDir);
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'partial');
  t.same(
    report.heldBack.map((h) => h.patchId).sort(),
    ['T5KB0042', 'T5KB0043'],
    'the patch and its dependant are held back',
  );

  const hex = sha256(damaged.bytes);
  const updater = await hostUpdater(server.base, join(root, 'host'), trustedRoot);
  await updater.refresh();
  const unavailable = trustedSet(updater).snapshot!.signed.unrecognizedFields['x-patchbay-unavailable'] as {
    path: string;
    sha256: string;
    reason: string;
  }[];
  t.match(unavailable, [{ path: 'arcserve-backup/19.0/T5KB0042/T5KB0042.sh', sha256: hex, reason: String }]);
  t.equal(unavailable.length, 1);
  t.notOk(await new ContentStore(join(dataDir, 'store')).has(hex), 'no blob for the damaged file');
  t.equal(
    (await fetch(`${server.base}/v1/tuf/targets/arcserve-backup/19.0/T5KB0042/${hex}.T5KB0042.sh`)).status,
    404,
  );

  const other = await updater.getTargetInfo('arcserve-udp/9.0/UDP0001/UDP0001.sh');
  t.ok(
    (await readFile(await updater.downloadTarget(other!))).equals(script('UDP0001').bytes),
    'the rest is published',
  );
  const catalog = await getJson<{ patches: { id: string }[] }>(`${server.base}/v1/catalog`);
  t.same(
    catalog.patches.map((p) => p.id),
    ['UDP0001'],
  );

  // gc keeps what the TUF repository serves beyond the catalog: T5KB0043's file (held back in
  // the catalog only for its requirement) and the descriptors.
  const gc = await server.mirror.gc();
  t.equal(gc.removedBlobs, 0, 'nothing the served repository names is collected');
  const held = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0043/T5KB0043.sh');
  t.ok(
    (await readFile(await updater.downloadTarget(held!))).equals(script('T5KB0043').bytes),
    'served after gc',
  );
  const descriptor = await updater.getTargetInfo('arcserve-udp/9.0/UDP0001.json');
  t.ok(await updater.downloadTarget(descriptor!), 'a descriptor target is served too');
});

t.test('an upstream root that does not list the online key fails the sync, saying what to add', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  await buildUpstream(upstreamDir, newUpstreamKeys());
  const upstreamUrl = await serveDirectory(t, upstreamDir);
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'failed');
  t.match(report.error, online.keyId, 'names the key id');
  t.match(report.error, /snapshot and timestamp/);
  t.match(
    report.error,
    /patchbay-publish init --online-key .*online\.key\.pub for a new repository; .*patchbay-publish rotate --role snapshot --add-key .*online\.key\.pub/,
    'says which command',
  );
  t.equal((await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`)).status, 404, 'nothing published');
  await t.rejects(stat(join(dataDir, 'tuf', 'metadata', 'timestamp.json')));
  const status = await getJson<StatusBody>(`${server.base}/v1/status`);
  t.equal(status.trust?.snapshotVersion, null);
  t.equal(status.trust?.onlineKeyId, online.keyId);
});

t.test('files only from the upstream origin: a target redirected elsewhere is withheld', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  await buildUpstream(upstreamDir, newUpstreamKeys(), { onlineKey: online.publicKeyPem });
  const elsewhere: string[] = [];
  const otherOrigin = await serveDirectory(t, upstreamDir, (path) => elsewhere.push(path));
  const upstreamUrl = await serveDirectory(t, upstreamDir, undefined, (path) =>
    path.endsWith('.UDP0001.sh') ? `${otherOrigin}${path.slice(1)}` : undefined,
  );
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'partial');
  t.same(elsewhere, [], 'nothing was requested from the other origin');
  t.match(report.heldBack, [{ patchId: 'UDP0001', error: /redirect .* refused/ }]);
  const snapshot = JSON.parse(
    await (await fetch(`${server.base}/v1/tuf/metadata/1.snapshot.json`)).text(),
  ) as { signed: { 'x-patchbay-unavailable': { path: string }[] } };
  t.same(
    snapshot.signed['x-patchbay-unavailable'].map((u) => u.path),
    ['arcserve-udp/9.0/UDP0001/UDP0001.sh'],
  );
});

t.test('a file: upstream (air-gapped media) is read like an http one', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  const trustedRoot = await buildUpstream(upstreamDir, newUpstreamKeys(), { onlineKey: online.publicKeyPem });
  const server = await startTufServer(
    t,
    tufServerConfig(
      dataDir,
      `${pathToFileURL(upstreamDir).href}/`,
      join(upstreamDir, 'metadata', '1.root.json'),
    ),
  );
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');
  const updater = await hostUpdater(server.base, join(root, 'host'), trustedRoot);
  const info = await updater.getTargetInfo('arcserve-udp/9.0/UDP0001/UDP0001.sh');
  t.ok((await readFile(await updater.downloadTarget(info!))).equals(script('UDP0001').bytes));
});
