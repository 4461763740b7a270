// Mirror signatures, re-signing before expiry, key rotation and vendor feed
// signatures, with the real mirror service, real files and real HTTP on loopback.
import { execFile } from 'node:child_process';
import { chmod, readFile, stat, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import {
  generateSigningKeyPair,
  rotationStatement,
  signDetached,
  verifyDetached,
  type ServerConfig,
} from '@patchbay/core';
import type { MirrorKeys, MirrorService } from '../src/mirror.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { runKeygen } from '../src/trust/keygen.js';
import {
  silentLogger,
  simplePatch,
  startUpstream,
  testConfig,
  writeFeedDir,
} from './fixtures/sync-upstream.js';
import { announcePublications } from '../src/cluster/publication-announce.js';

const run = promisify(execFile);
const BIN = new URL('../bin/patchbay-server.js', import.meta.url).pathname;

async function openMirror(tt: Test, config: ServerConfig): Promise<MirrorService> {
  const mirror = await createMirrorService(config, silentLogger, { retryBaseMs: 5 });
  tt.teardown(() => mirror.close());
  return mirror;
}

/** The real app over a mirror, on 127.0.0.1:0. */
async function serveMirror(tt: Test, mirror: MirrorService, config: ServerConfig): Promise<string> {
  const store = await ReportStore.open(config.dataDir);
  const app = await buildServer({ mirror, store, config, logger: silentLogger });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  tt.teardown(async () => {
    await app.close();
    await store.close();
  });
  return base;
}

async function feedWith(
  tt: Test,
  ids: string[],
): Promise<{ feedDir: string; dataDir: string; feedBytes: Buffer }> {
  const root = tt.testdir({ feed: {}, data: {} });
  const feedDir = join(root, 'feed');
  const { bytes } = await writeFeedDir(feedDir, {
    sequence: 3,
    patches: ids.map((id) => simplePatch(id)),
  });
  return { feedDir, dataDir: join(root, 'data'), feedBytes: bytes };
}

t.test('keygen writes a 0600 key, prints the public key, refuses to overwrite', async (t) => {
  const dataDir = t.testdir();
  const config = { dataDir };
  const first = await runKeygen(config);
  t.equal(first.keyFile, join(dataDir, 'keys', 'mirror.key'));
  t.equal((await stat(first.keyFile)).mode & 0o777, 0o600, 'mode 0600');
  const pem = await readFile(first.keyFile, 'utf8');
  t.match(pem, /^-----BEGIN PRIVATE KEY-----/);
  t.ok(
    verifyDetached(Buffer.from('x'), signDetached(Buffer.from('x'), pem), first.publicKey),
    'the pair matches',
  );

  await t.rejects(runKeygen(config), {
    code: 'PB_ERR_CONFIG',
    message: /already exists; refusing to overwrite/,
  });
  t.equal(await readFile(first.keyFile, 'utf8'), pem, 'the existing key is untouched');

  const forced = await runKeygen(config, { force: true });
  t.not(forced.publicKey, first.publicKey, '--force replaces it');

  // The CLI: --json prints the public key and fingerprint; a second run exits 2.
  const cliDir = t.testdir();
  const out = await run(process.execPath, [BIN, '--data-dir', cliDir, '--json', 'keygen']);
  const printed = JSON.parse(out.stdout) as { publicKey: string; fingerprint: string; keyFile: string };
  t.match(printed, { keyFile: join(cliDir, 'keys', 'mirror.key'), fingerprint: /^[0-9a-f]{16}$/ });
  t.notMatch(out.stdout + out.stderr, /PRIVATE KEY/, 'the private key is never printed');
  const again = await run(process.execPath, [BIN, '--data-dir', cliDir, 'keygen']).catch(
    (err: unknown) => err,
  );
  t.match(again, { code: 2, stderr: /refusing to overwrite/ });
});

t.test('a group- or world-readable key stops serve/sync with exit 2 naming the file', async (t) => {
  const dataDir = t.testdir();
  const { keyFile } = await runKeygen({ dataDir });
  await chmod(keyFile, 0o644);
  const result = await run(process.execPath, [
    BIN,
    '--data-dir',
    dataDir,
    '--upstream',
    'http://127.0.0.1:9/',
    'sync',
  ]).catch((err: unknown) => err);
  t.match(result, { code: 2 });
  t.match((result as { stderr: string }).stderr, `signing key ${keyFile} is readable by group or others`);
  t.match((result as { stderr: string }).stderr, `chmod 600 ${keyFile}`);
});

t.test(
  'catalog.sig verifies against /v1/keys for the exact catalog bytes; restart serves the same pair',
  async (t) => {
    const { feedDir, dataDir } = await feedWith(t, ['A', 'B']);
    const upstream = await startUpstream(feedDir);
    t.teardown(() => upstream.close());
    const config = testConfig(dataDir, upstream.url);

    const first = await (async () => {
      const tt = t; // closed explicitly below to restart on the same data dir
      const mirror = await createMirrorService(config, silentLogger, { retryBaseMs: 5 });
      const report = await mirror.startSync();
      tt.equal(report.outcome, 'ok');
      const store = await ReportStore.open(dataDir);
      const app = await buildServer({ mirror, store, config, logger: silentLogger });
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      const catalog = await fetch(`${base}/v1/catalog`, { headers: { 'accept-encoding': 'identity' } });
      const bytes = Buffer.from(await catalog.arrayBuffer());
      const sig = await fetch(`${base}/v1/catalog.sig`);
      tt.equal(sig.headers.get('content-type'), 'text/plain; charset=utf-8');
      tt.equal(sig.headers.get('etag'), catalog.headers.get('etag'), 'signature carries the catalog ETag');
      const signature = await sig.text();
      tt.equal(
        catalog.headers.get('patchbay-catalog-signature'),
        signature,
        'the catalog answer carries its own signature in a header (no race with a new publication)',
      );
      const keys = (await (await fetch(`${base}/v1/keys`)).json()) as MirrorKeys;
      tt.ok(verifyDetached(bytes, signature, keys.mirror), 'signature of the served bytes by the served key');
      tt.notOk(
        verifyDetached(Buffer.concat([bytes, Buffer.from(' ')]), signature, keys.mirror),
        'other bytes fail',
      );
      tt.match(keys.fingerprint, /^[0-9a-f]{16}$/);

      // gzip: the signature covers the identity bytes, which gunzip gives back exactly.
      const published = mirror.current()!;
      const gz = await fetch(`${base}/v1/catalog`, { headers: { 'accept-encoding': 'gzip' } });
      tt.equal(gz.headers.get('content-encoding'), 'gzip');
      await gz.arrayBuffer(); // fetch decodes gzip itself; check the exact gzip bytes the mirror serves
      const identity = gunzipSync(published.gzip);
      tt.ok(verifyDetached(identity, signature, keys.mirror), 'gzip body: signature over the identity bytes');

      const parsed = JSON.parse(bytes.toString('utf8')) as { expiresAt: string; publishedAt: string };
      const days = (Date.parse(parsed.expiresAt) - Date.parse(parsed.publishedAt)) / 86_400_000;
      tt.ok(Math.abs(days - 7) < 0.001, 'expiresAt = signing time + 7 days by default');

      const notModified = await fetch(`${base}/v1/catalog.sig`, {
        headers: { 'if-none-match': catalog.headers.get('etag') ?? '' },
      });
      tt.equal(notModified.status, 304);
      await app.close();
      await store.close();
      await mirror.close();
      return { bytes, signature, keys };
    })();

    const sigPath = join(dataDir, 'catalog', 'current.json.sig');
    t.equal(
      (await readFile(sigPath, 'utf8')).trim(),
      first.signature,
      'signature persisted beside current.json',
    );

    // Restart with the same data dir: same bytes, same signature, same key.
    const mirror = await openMirror(t, config);
    const base = await serveMirror(t, mirror, config);
    const bytes = Buffer.from(
      await (await fetch(`${base}/v1/catalog`, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer(),
    );
    const signature = await (await fetch(`${base}/v1/catalog.sig`)).text();
    const keys = (await (await fetch(`${base}/v1/keys`)).json()) as MirrorKeys;
    t.ok(bytes.equals(first.bytes), 'same catalog bytes after restart');
    t.equal(signature, first.signature, 'same signature after restart');
    t.equal(keys.mirror, first.keys.mirror, 'same key after restart');
  },
);

t.test('a torn signature file is repaired at load (signed again, verifies)', async (t) => {
  const { feedDir, dataDir } = await feedWith(t, ['A']);
  const config = testConfig(dataDir, `file://${feedDir}/`);
  const mirror = await createMirrorService(config, silentLogger);
  await mirror.startSync();
  const bytes = mirror.current()!.bytes;
  await mirror.close();
  await writeFile(join(dataDir, 'catalog', 'current.json.sig'), 'garbage');
  const reopened = await openMirror(t, config);
  const published = reopened.current()!;
  t.ok(published.bytes.equals(bytes), 'same catalog');
  t.ok(
    verifyDetached(published.bytes, published.signature, published.keys.mirror),
    'the served pair verifies',
  );
  t.equal((await readFile(join(dataDir, 'catalog', 'current.json.sig'), 'utf8')).trim(), published.signature);
});

t.test('the mirror re-signs before expiry with no new patches', async (t) => {
  const { feedDir, dataDir } = await feedWith(t, ['A']);
  const config: ServerConfig = {
    ...testConfig(dataDir, `file://${feedDir}/`),
    // 0.00003 days = 2.6 s; re-signed after half of it at the latest
    signing: { keyFile: null, expiryDays: 0.00003, resignBeforeHours: 24 },
  };
  const mirror = await openMirror(t, config);
  await mirror.startSync();
  const first = mirror.current()!;
  t.ok(Date.parse(first.expiresAt) > Date.now(), 'not expired yet');
  // what the leader tells the replicas (lifecycle/mirror-plugin.ts): a re-sign is a publication too
  let announced = 0;
  t.teardown(announcePublications(mirror.events, () => announced++));

  const deadline = Date.now() + 6000;
  while (mirror.current()!.sequence === first.sequence && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const second = mirror.current()!;
  t.ok(second.sequence > first.sequence, `sequence bumped (${first.sequence} -> ${second.sequence})`);
  t.ok(Date.parse(second.expiresAt) > Date.parse(first.expiresAt), 'expiresAt moved on');
  t.ok(Date.now() < Date.parse(first.expiresAt), 're-signed before the old one expired');
  t.same(second.catalog.patches, first.catalog.patches, 'same patches');
  t.ok(announced >= 1, 'the re-sign was announced to the followers');
  t.ok(verifyDetached(second.bytes, second.signature, second.keys.mirror), 'the new pair verifies');
  t.equal((await readFile(join(dataDir, 'catalog', 'current.json.sig'), 'utf8')).trim(), second.signature);

  // A sync with nothing new also re-signs when due (here: not due, so nothing is published).
  const report = await mirror.startSync();
  t.equal(report.published, false, 'not due: nothing published');
});

t.test('keygen --rotate: the old key endorses the new one; /v1/keys serves the chain', async (t) => {
  const { feedDir, dataDir } = await feedWith(t, ['A']);
  const config = testConfig(dataDir, `file://${feedDir}/`);
  const original = await runKeygen(config);
  const rotated = await runKeygen(config, { rotate: true });
  t.not(rotated.publicKey, original.publicKey);
  t.equal(rotated.rotatedFrom?.publicKey, original.publicKey);

  const mirror = await openMirror(t, config);
  await mirror.startSync();
  const base = await serveMirror(t, mirror, config);
  const keys = (await (await fetch(`${base}/v1/keys`)).json()) as MirrorKeys;
  t.equal(keys.mirror, rotated.publicKey, 'the new key signs');
  t.equal(keys.rotation?.length, 1);
  const step = keys.rotation![0]!;
  t.equal(step.key, original.publicKey);
  t.ok(
    verifyDetached(rotationStatement(keys.mirror), step.endorsement, original.publicKey),
    'old key endorses new',
  );
  const stranger = generateSigningKeyPair();
  t.notOk(verifyDetached(rotationStatement(stranger.publicKey), step.endorsement, original.publicKey));
});

t.test('vendor feed signatures with upstream.publicKey', async (t) => {
  const vendor = generateSigningKeyPair();
  const { feedDir, dataDir, feedBytes } = await feedWith(t, ['A']);
  const upstream = await startUpstream(feedDir);
  t.teardown(() => upstream.close());
  const sigPath = join(feedDir, 'feed.json.sig');
  await writeFile(sigPath, signDetached(feedBytes, vendor.privateKeyPem));
  const config = testConfig(dataDir, upstream.url, { publicKey: vendor.publicKey });
  const mirror = await openMirror(t, config);

  const ok = await mirror.startSync();
  t.equal(ok.outcome, 'ok', 'a valid signature passes');
  t.ok(upstream.requests.includes('/feed.json.sig'), 'the signature was fetched');
  const kept = mirror.current()!.sequence;

  // A new feed (sequence 4) without a signature: refused, previous catalog kept.
  const next = await writeFeedDir(feedDir, { sequence: 4, patches: [simplePatch('A'), simplePatch('B')] });
  await rm(sigPath);
  const missing = await mirror.startSync();
  t.equal(missing.outcome, 'failed');
  t.match(missing.error, /PB_ERR_SIGNATURE/);
  t.match(missing.error, /is missing/);
  t.equal(mirror.current()!.sequence, kept, 'previous catalog kept');
  t.same(
    mirror.current()!.catalog.patches.map((p) => p.id),
    ['A'],
  );

  // A signature of other bytes (the old feed): refused.
  await writeFile(sigPath, signDetached(feedBytes, vendor.privateKeyPem));
  const wrong = await mirror.startSync();
  t.equal(wrong.outcome, 'failed');
  t.match(wrong.error, /does not verify/);
  t.equal(mirror.current()!.sequence, kept);

  // Signed by another key: refused too.
  await writeFile(sigPath, signDetached(next.bytes, generateSigningKeyPair().privateKeyPem));
  t.match((await mirror.startSync()).error, /does not verify/);

  // The right signature: accepted and published.
  await writeFile(sigPath, signDetached(next.bytes, vendor.privateKeyPem));
  const good = await mirror.startSync();
  t.equal(good.outcome, 'ok');
  t.ok(mirror.current()!.sequence > kept);

  // /v1/status shows the failure reason of a failed sync.
  await rm(sigPath);
  await writeFeedDir(feedDir, { sequence: 5, patches: [simplePatch('A')] });
  await mirror.startSync();
  const base = await serveMirror(t, mirror, config);
  const status = (await (await fetch(`${base}/v1/status`)).json()) as {
    lastSync: { outcome: string; error: string };
  };
  t.equal(status.lastSync.outcome, 'failed');
  t.match(status.lastSync.error, /feed signature .* is missing/);
});

t.test('without upstream.publicKey an unsigned feed is fine and feed.json.sig is ignored', async (t) => {
  const { feedDir, dataDir } = await feedWith(t, ['A']);
  await writeFile(join(feedDir, 'feed.json.sig'), 'not a signature');
  const upstream = await startUpstream(feedDir);
  t.teardown(() => upstream.close());
  const mirror = await openMirror(t, testConfig(dataDir, upstream.url));
  const report = await mirror.startSync();
  t.equal(report.outcome, 'ok');
  t.notOk(upstream.requests.includes('/feed.json.sig'), 'not even fetched');
});
