// The served repository over time: the timestamp re-signed by the server's own timer (an
// injected clock, no sleeps), the root chain a host walks, and a crash between the snapshot
// and the timestamp (failpoint tuf:after-snapshot in a real patchbay-server process).
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import { BIN } from './fixtures/server-cli.js';
import {
  DEFAULT_PATCHES,
  buildUpstream,
  generateUpstreamKey,
  hostUpdater,
  newUpstreamKeys,
  script,
  serveDirectory,
  trustedSet,
  writeRoot,
} from './fixtures/tuf-upstream.js';
import { ManualClock, startTufServer, tufServerConfig } from './fixtures/tuf-server.js';

interface Trust {
  rootVersion: number | null;
  snapshotVersion: number | null;
  timestampVersion: number | null;
  timestampExpires: string | null;
}

async function trustOf(base: string): Promise<Trust> {
  return ((await (await fetch(`${base}/v1/status`)).json()) as { trust: Trust }).trust;
}

const HOUR = 3_600_000;

t.test('serve re-signs the timestamp before half its life, with nothing new upstream', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  const trustedRoot = await buildUpstream(upstreamDir, newUpstreamKeys(), { onlineKey: online.publicKeyPem });
  const upstreamUrl = await serveDirectory(t, upstreamDir);
  const clock = new ManualClock();
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json'), {
      signing: { timestampExpiryHours: 24 },
    }),
    { clock },
  );
  t.equal((await server.mirror.startSync()).outcome, 'ok');
  const first = await trustOf(server.base);
  t.match(first, { snapshotVersion: 1, timestampVersion: 1 });
  t.equal(
    Date.parse(first.timestampExpires!),
    clock.now().getTime() - (clock.now().getTime() % 1000) + 24 * HOUR,
    'expires a day after signing',
  );

  // a polling host: the served copy is kept in memory, and dropped by the server's own re-sign
  const poll = (etag?: string) =>
    fetch(`${server.base}/v1/tuf/metadata/timestamp.json`, {
      headers: etag ? { 'if-none-match': etag } : {},
    });
  const polled = await poll();
  const etag = polled.headers.get('etag')!;
  t.equal(((await polled.json()) as { signed: { version: number } }).signed.version, 1);
  t.equal((await poll(etag)).status, 304, 'unchanged: 304');

  await clock.advance(10 * HOUR);
  t.equal((await trustOf(server.base)).timestampVersion, 1, 'not yet: 10 of 24 hours');
  await clock.advance(1 * HOUR);
  const resigned = await poll(etag);
  t.equal(resigned.status, 200, 'the re-signed timestamp is served at once, not the kept copy');
  t.not(resigned.headers.get('etag'), etag, 'under a new ETag');
  t.equal(((await resigned.json()) as { signed: { version: number } }).signed.version, 2);
  const second = await trustOf(server.base);
  t.match(
    second,
    { snapshotVersion: 1, timestampVersion: 2 },
    're-signed at 11 of 24 hours: new version, same snapshot',
  );
  t.ok(Date.parse(second.timestampExpires!) > Date.parse(first.timestampExpires!), 'a later expiry');

  // A host that saw version 1 accepts version 2 (same snapshot, higher version).
  const host = join(root, 'host');
  const updater = await hostUpdater(server.base, host, trustedRoot);
  await updater.refresh();
  t.equal(trustedSet(updater).timestamp!.signed.version, 2);
  await clock.advance(11 * HOUR);
  t.equal((await trustOf(server.base)).timestampVersion, 3, 'and again 11 hours later');
  const later = await hostUpdater(server.base, host, trustedRoot);
  await later.refresh();
  t.equal(trustedSet(later).timestamp!.signed.version, 3);
  t.equal(trustedSet(later).snapshot!.signed.version, 1);

  // The snapshot (7 days) is re-signed by the same timer past half its life, with no sync:
  // same roles, a new version, a later expiry.
  await clock.advance(2 * 24 * HOUR);
  t.equal((await trustOf(server.base)).snapshotVersion, 1, 'not yet at 2 days 22 hours');
  await clock.advance(14 * HOUR);
  const renewed = await trustOf(server.base);
  t.equal(renewed.snapshotVersion, 2, 're-signed at 3.5 days');
  const fresh = await hostUpdater(server.base, host, trustedRoot);
  await fresh.refresh();
  t.equal(trustedSet(fresh).snapshot!.signed.version, 2);
  t.same(
    Object.keys(trustedSet(fresh).snapshot!.signed.meta).sort(),
    ['arcserve-backup~19.0.json', 'arcserve-udp~9.0.json', 'targets.json'],
    'the same roles',
  );
});

t.test('root chain: rotated upstream roots are served for hosts that trust an older one', async (t) => {
  const root = t.testdir();
  const upstreamDir = join(root, 'upstream');
  const dataA = join(root, 'data-a');
  const dataB = join(root, 'data-b');
  const { key: onlineA } = await ensureOnlineKey({ dataDir: dataA });
  const { key: onlineB } = await ensureOnlineKey({ dataDir: dataB });
  const keys = newUpstreamKeys();
  const root1 = await buildUpstream(upstreamDir, keys, { onlineKey: onlineA.publicKeyPem });
  const upstreamUrl = await serveDirectory(t, upstreamDir);

  // Server A, trusting version 1, publishes; then the upstream rotates its root key and adds B.
  const serverA = await startTufServer(
    t,
    tufServerConfig(dataA, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );
  t.equal((await serverA.mirror.startSync()).outcome, 'ok');
  const oldRootKey = keys.root;
  keys.root = generateUpstreamKey();
  await writeRoot(upstreamDir, keys, { version: 2, onlineKey: onlineA.publicKeyPem, signers: [oldRootKey] });
  const root3 = await writeRoot(upstreamDir, keys, { version: 3, onlineKey: onlineB.publicKeyPem });
  t.ok(root3, 'root 3 lists only server B');

  // A's sync walks 1 -> 2 -> 3, which no longer lists A's key: refused, A keeps serving root 1.
  const refused = await serverA.mirror.startSync();
  t.equal(refused.outcome, 'failed');
  t.match(refused.error, onlineA.keyId);
  t.equal((await trustOf(serverA.base)).rootVersion, 1);

  // Server B trusts root 3 only: it fetches 2 and 1 backwards, checked against 3.
  const serverB = await startTufServer(
    t,
    tufServerConfig(dataB, upstreamUrl, join(upstreamDir, 'metadata', '3.root.json')),
  );
  const synced = await serverB.mirror.startSync();
  t.equal(synced.outcome, 'ok', synced.error ?? '');
  t.equal((await trustOf(serverB.base)).rootVersion, 3);
  t.same((await readdir(join(dataB, 'tuf', 'metadata'))).filter((n) => n.endsWith('root.json')).sort(), [
    '1.root.json',
    '2.root.json',
    '3.root.json',
    'root.json',
  ]);
  // A host shipped with root 1 walks the chain on B to root 3 and verifies B's snapshot.
  const updater = await hostUpdater(serverB.base, join(root, 'host'), root1);
  await updater.refresh();
  t.equal(trustedSet(updater).root.signed.version, 3, 'the host walked 1 -> 2 -> 3');
  const info = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh');
  t.ok(info, 'and reads its product role');
});

t.test('a crash between snapshot and timestamp leaves the previous timestamp valid for hosts', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  const keys = newUpstreamKeys();
  const trustedRoot = await buildUpstream(upstreamDir, keys, { onlineKey: online.publicKeyPem });
  const upstreamUrl = await serveDirectory(t, upstreamDir);
  const settings = tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json'));
  const first = await startTufServer(t, settings);
  t.equal((await first.mirror.startSync()).outcome, 'ok');
  const configFile = first.configFile;
  await first.close();

  // The upstream publishes a new patch; a real sync dies after writing snapshot 2.
  const patches = [
    ...DEFAULT_PATCHES,
    { id: 'T5KB0044', product: 'arcserve-backup', release: '19.0', files: [script('T5KB0044')] },
  ];
  await buildUpstream(upstreamDir, keys, { version: 2, patches });
  const crashed = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      const child = spawn(process.execPath, [BIN, '--config', configFile, 'sync'], {
        env: { ...process.env, PATCHBAY_FAILPOINTS: 'tuf:after-snapshot' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stderr }));
    },
  );
  t.equal(crashed.signal, 'SIGKILL', 'the sync died at the failpoint');
  t.match(crashed.stderr, 'failpoint tuf:after-snapshot');
  const files = await readdir(join(dataDir, 'tuf', 'metadata'));
  t.ok(files.includes('2.snapshot.json'), 'snapshot 2 was written');

  // Restarted: hosts still get timestamp 1 -> snapshot 1, which verifies (without T5KB0044).
  const second = await startTufServer(t, settings);
  t.match(await trustOf(second.base), { snapshotVersion: 1, timestampVersion: 1 });
  const updater = await hostUpdater(second.base, join(root, 'host'), trustedRoot);
  await updater.refresh();
  t.equal(trustedSet(updater).snapshot!.signed.version, 1);
  t.ok(await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh'));
  t.notOk(
    await updater.getTargetInfo('arcserve-backup/19.0/T5KB0044/T5KB0044.sh'),
    'the half-published patch is not visible',
  );

  // The next sync publishes above the orphan: snapshot 3, timestamp 2.
  t.equal((await second.mirror.startSync()).outcome, 'ok');
  t.match(await trustOf(second.base), { snapshotVersion: 3, timestampVersion: 2 });
  const fresh = await hostUpdater(second.base, join(root, 'host'), trustedRoot);
  await fresh.refresh();
  t.ok(await fresh.getTargetInfo('arcserve-backup/19.0/T5KB0044/T5KB0044.sh'), 'now it is');
});
