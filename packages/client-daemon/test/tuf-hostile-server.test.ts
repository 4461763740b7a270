// Trust v2 on the host (CONTRACT §5, issue 13), written as the attacker: a staging server
// that holds the real snapshot and timestamp key (the DMZ machine is owned) but not the
// publisher's targets keys can withhold and delay, never make a host install, uninstall or
// run a detect command the publisher did not sign. Real HTTP over 127.0.0.1, commands run
// in this process (createSession + the command function) to keep the file fast.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { createSigner, expiresAfter, metadataFileName, writeMetadata } from '@patchbay/core/tuf';
import { Metadata, MetadataKind } from '@tufjs/models';
import type { Targets } from '@tufjs/models';
import type { ClientReport } from '@patchbay/core';
import { checkCommand } from '../src/commands/check.js';
import { doctorCommand } from '../src/commands/doctor.js';
import { installCommand } from '../src/commands/install.js';
import { makeSandbox } from './fixtures/client.js';
import { runInProcess } from './fixtures/in-process.js';
import type { Sandbox } from './fixtures/client.js';
import { ROLE, startTufStaging } from './fixtures/tuf-staging.js';
import type { TufStaging } from './fixtures/tuf-staging.js';

const run = runInProcess;

async function setup(t: Test): Promise<{ server: TufStaging; sb: Sandbox; pwned: string }> {
  const dir = t.testdir();
  const server = await startTufStaging(path.join(dir, 'repo'), [
    { id: 'A', severity: 'critical' },
    { id: 'B', requires: ['A'] },
  ]);
  t.teardown(() => server.close());
  const sb = makeSandbox(path.join(dir, 'host'), () => [server.url]);
  sb.writeConfig({ trust: { root: server.rootFile } });
  return { server, sb, pwned: path.join(dir, 'pwned') };
}

function patchIds(doc: Record<string, unknown>): string[] {
  return ((doc.patches as { id: string }[] | undefined) ?? []).map((p) => p.id);
}

/** The newest version of the product role on the server's disk. */
function roleOnDisk(server: TufStaging): Metadata<Targets> {
  const file = path.join(server.dir, 'metadata', metadataFileName(ROLE, server.versions.role));
  return Metadata.fromJSON(MetadataKind.Targets, JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * The hostile server rewrites the product role as it likes (a new version), signs it with the
 * key it has (the online key), and publishes it through a snapshot and timestamp it signs.
 */
async function forgeRole(
  server: TufStaging,
  change: (signed: Record<string, unknown>) => void,
): Promise<void> {
  const current = roleOnDisk(server);
  const signed = current.signed.toJSON() as Record<string, unknown>;
  change(signed);
  signed.version = current.signed.version + 1;
  const forged = Metadata.fromJSON(MetadataKind.Targets, { signed, signatures: [] } as never);
  forged.sign(createSigner(server.online));
  await writeMetadata(server.dir, ROLE, forged);
  server.versions.role = forged.signed.version;
  await server.republish();
}

/** forgeRole changing every patch descriptor of the role (its custom.patchbay.patch). */
function forgePatches(server: TufStaging, change: (patch: Record<string, unknown>) => void): Promise<void> {
  return forgeRole(server, (signed) => {
    const targets = signed.targets as Record<
      string,
      { custom?: { patchbay?: { patch?: Record<string, unknown> } } }
    >;
    for (const target of Object.values(targets)) {
      const patch = target.custom?.patchbay?.patch;
      if (patch) change(patch);
    }
  });
}

function installedMarkers(sb: Sandbox): string[] {
  return ['A', 'B', 'C'].filter((id) => sb.marker(id));
}

t.test('honest server: the host verifies from trust.root, lists, installs and reports', async (t) => {
  const { server, sb } = await setup(t);
  const check = await run(sb, checkCommand);
  t.equal(check.code, 0, check.error?.message);
  t.same(patchIds(check.doc), ['A', 'B']);
  t.ok(server.requests.includes('/v1/tuf/metadata/timestamp.json'), 'TUF metadata was read');
  t.notOk(server.requests.includes('/v1/catalog'), 'the legacy catalog is never asked for');
  const install = await run(sb, installCommand, ['B']);
  t.equal(install.code, 0, install.error?.message);
  t.same(installedMarkers(sb), ['A', 'B'], 'installed in dependency order');
  t.ok(
    server.reports.some((r) => r.events.some((e) => e.type === 'install' && e.patchId === 'B')),
    'reported to the staging server',
  );
  const doctor = await run(sb, doctorCommand);
  t.equal(doctor.code, 0, JSON.stringify(doctor.doc));
});

t.test('a hostile server with the online key cannot change what a patch runs', async (t) => {
  const { server, sb, pwned } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0, 'first check against the honest server');
  await forgePatches(server, (patch) => {
    patch.install = { command: ['sh', '-c', `touch '${pwned}'`] };
    patch.detect = { command: ['sh', '-c', `touch '${pwned}'`], installedExitCodes: [0] };
  });
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1, 'check refuses');
  t.equal(check.error?.code, 'PB_ERR_TUF_VERIFY');
  t.match(check.error?.message ?? '', /arcserve-backup~19\.0/, 'names the role');
  const install = await run(sb, installCommand, ['A']);
  t.equal(install.code, 1, 'install refuses');
  t.notOk(existsSync(pwned), 'no command of the forged metadata ran (detect or install)');
  t.same(installedMarkers(sb), []);
});

t.test("a hostile server with the online key cannot change how a patch's outcome is judged", async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  // no new command: only what decides "installed" and what an exit code means, so that a
  // failing install would count as done (or be put off for ever) and a patch look installed
  await forgePatches(server, (patch) => {
    patch.install = {
      ...(patch.install as object),
      successExitCodes: [0, 1, 1603],
      rebootExitCodes: [3010],
      retryExitCodes: [2],
    };
    patch.detect = { registry: { key: 'HKLM\\SOFTWARE\\Microsoft', view: '64' } };
  });
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1, 'check refuses');
  t.equal(check.error?.code, 'PB_ERR_TUF_VERIFY');
  const install = await run(sb, installCommand, ['A']);
  t.equal(install.code, 1, 'install refuses');
  t.equal(install.error?.code, 'PB_ERR_TUF_VERIFY');
  t.same(installedMarkers(sb), [], 'nothing ran, nothing counted as installed');
});

t.test('a hostile server with the online key cannot add a patch', async (t) => {
  const { server, sb, pwned } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  await forgeRole(server, (signed) => {
    const targets = signed.targets as Record<string, unknown>;
    const [descriptorPath, descriptor] = Object.entries(targets).find(([p]) => p.endsWith('/A.json'))!;
    const copy = JSON.parse(JSON.stringify(descriptor)) as {
      custom: { patchbay: { patch: Record<string, unknown> } };
    };
    copy.custom.patchbay.patch.id = 'C';
    copy.custom.patchbay.patch.install = { command: ['sh', '-c', `touch '${pwned}'`] };
    targets[descriptorPath.replace('/A.json', '/C.json')] = copy;
  });
  const install = await run(sb, installCommand, ['C']);
  t.equal(install.code, 1);
  t.equal(install.error?.code, 'PB_ERR_TUF_VERIFY');
  t.notOk(existsSync(pwned));
});

t.test('rollback: an older snapshot and timestamp, properly signed, are refused', async (t) => {
  const { server, sb } = await setup(t);
  const oldTimestamp = readFileSync(path.join(server.dir, 'metadata', 'timestamp.json'));
  await server.publish([{ id: 'A', severity: 'critical' }, { id: 'B', requires: ['A'] }, { id: 'C' }]);
  t.equal((await run(sb, checkCommand)).code, 0, 'the host saw the newer publication');
  writeFileSync(path.join(server.dir, 'metadata', 'timestamp.json'), oldTimestamp);
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1, 'the replayed timestamp is refused');
  t.equal(check.error?.code, 'PB_ERR_TUF_VERIFY');
  t.match(check.error?.message ?? '', /version/i);
});

t.test('freeze: an expired timestamp is refused; the server can delay, not freeze silently', async (t) => {
  const { server, sb } = await setup(t);
  await server.republish({ timestampExpires: expiresAfter(new Date(Date.now() - 2 * 86_400_000), 1) });
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1);
  t.equal(check.error?.code, 'PB_ERR_TUF_VERIFY');
  t.match(check.error?.message ?? '', /expired/i);
});

t.test('mix-and-match: a role file that is not the version the snapshot names is refused', async (t) => {
  const { server, sb } = await setup(t);
  await server.publish([{ id: 'A', severity: 'critical' }]);
  // the server serves role version 1's bytes under version 2's name
  const v1 = readFileSync(path.join(server.dir, 'metadata', metadataFileName(ROLE, 1)));
  writeFileSync(path.join(server.dir, 'metadata', metadataFileName(ROLE, 2)), v1);
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1);
  t.equal(check.error?.code, 'PB_ERR_TUF_VERIFY');
});

t.test('endless data: a timestamp that never ends is cut off at its maximum length', async (t) => {
  const { server, sb } = await setup(t);
  server.attack = 'endless-timestamp';
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1);
  t.match(check.error?.message ?? '', /length/i);
});

t.test('withholding: a file the mirror marks unavailable holds back its patch and dependants', async (t) => {
  const { server, sb } = await setup(t);
  const role = roleOnDisk(server);
  const file = Object.values(role.signed.targets).find((target) => target.path.endsWith('/A/A.sh'))!;
  await server.republish({
    unavailable: [{ path: file.path, sha256: file.hashes.sha256, reason: 'SHA-256 mismatch on the mirror' }],
  });
  const check = await run(sb, checkCommand);
  t.equal(check.code, 0, check.error?.message);
  t.same(patchIds(check.doc), [], 'A (unavailable) and B (requires A) are held back');
  const install = await run(sb, installCommand, ['B']);
  t.equal(install.code, 1);
  t.same(installedMarkers(sb), []);
});

t.test('a 404 for the timestamp is an error, never a downgrade', async (t) => {
  const { server, sb, pwned } = await setup(t);
  server.attack = 'timestamp-404';
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1);
  t.notOk(server.requests.includes('/v1/catalog'), 'nothing else is asked instead');
  t.notOk(server.requests.includes('/feed.json'));
  t.notOk(existsSync(pwned));
});

t.test('root rotated A→B→C is followed by a host that holds only A', async (t) => {
  const { server, sb } = await setup(t);
  await server.rotateRoot();
  await server.rotateRoot();
  await server.publish([{ id: 'A', severity: 'critical' }]);
  const check = await run(sb, checkCommand);
  t.equal(check.code, 0, check.error?.message);
  t.same(patchIds(check.doc), ['A']);
  const kept = JSON.parse(readFileSync(server.rootFile, 'utf8')) as { signed: { version: number } };
  t.equal(kept.signed.version, 1, 'the host was deployed with root version 1');
});

t.test('without trust.root the host refuses to start, unless trust on first use is asked for', async (t) => {
  const { server, sb } = await setup(t);
  sb.writeConfig({ trust: { trustOnFirstUse: false, root: null } });
  // neither root nor trust on first use: a config error, nothing fetched
  const refused = await run(sb, checkCommand);
  t.equal(refused.code, 2, 'exit 2: bad config');
  t.equal(refused.error?.code, 'PB_ERR_CONFIG');
  t.match(refused.error?.message, /trust\.root is not set/, 'names the key');
  t.match(refused.error?.message, /trust\.trustOnFirstUse/, 'says how to take the first root knowingly');
  t.same(server.requests, [], 'nothing was asked of any server');
  sb.writeConfig({ trust: { trustOnFirstUse: true } });
  const tofu = await run(sb, checkCommand);
  t.equal(tofu.code, 0, tofu.error?.message);
  t.match(tofu.stderr, /trust on first use/, 'check says so');
  const doctor = await run(sb, doctorCommand);
  t.match(JSON.stringify(doctor.doc), /trust on first use/, 'doctor says so');
  t.ok(server.requests.includes('/v1/tuf/metadata/1.root.json'));
});

t.test('a root that lets the online key sign targets works, and check and doctor warn', async (t) => {
  const dir = t.testdir();
  const server = await startTufStaging(path.join(dir, 'repo'), [{ id: 'A', severity: 'critical' }], {
    onlineKeySignsTargets: true,
  });
  t.teardown(() => server.close());
  const sb = makeSandbox(path.join(dir, 'host'), () => [server.url]);
  sb.writeConfig({ trust: { root: server.rootFile } });
  const check = await run(sb, checkCommand);
  t.equal(check.code, 0, check.error?.message);
  t.match(check.stderr, /online staging-server key sign targets/, 'check warns');
  const doctor = await run(sb, doctorCommand);
  t.match(JSON.stringify(doctor.doc), /a compromised staging server controls this host/, 'doctor warns');

  const honest = await setup(t);
  const quiet = await run(honest.sb, checkCommand);
  t.notMatch(quiet.stderr, /online staging-server key/, 'no warning when the publisher holds targets');
});

t.test(
  'a config written for trust v1 is refused at start, naming the key and what to use instead',
  async (t) => {
    const { server, sb } = await setup(t);
    // a vendor feed directory on this host's disk (feed.json, no TUF metadata/)
    const feedDir = path.join(sb.dir, 'feed');
    mkdirSync(feedDir);
    writeFileSync(path.join(feedDir, 'feed.json'), '{"format":"patchbay-feed/1"}');
    const cases: [Record<string, unknown>, RegExp, RegExp][] = [
      [
        { trust: { root: server.rootFile, legacyMirrorKey: true } },
        /^trust\.legacyMirrorKey: /,
        /trust\.root/,
      ],
      [
        { trust: { root: server.rootFile, legacyMirrorKey: false } },
        /^trust\.legacyMirrorKey: /,
        /trust\.root/,
      ],
      [
        { trust: { root: server.rootFile, mirrorKey: 'MCowBQYDK2VwAyEA' } },
        /^trust\.mirrorKey: /,
        /trust\.root/,
      ],
      [{ trust: { root: server.rootFile, feedKey: 'MCowBQYDK2VwAyEA' } }, /^trust\.feedKey: /, /import-feed/],
      [
        { server: [server.url, `${server.url}/feed.json`] },
        /^server\[1\]: .*patchbay-feed\/1/,
        /import-feed/,
      ],
      [{ server: [pathToFileURL(feedDir).href] }, /^server\[0\]: .*patchbay-feed\/1/, /import-feed/],
    ];
    for (const [config, names, instead] of cases) {
      sb.writeConfig(config);
      const refused = await run(sb, checkCommand);
      t.equal(refused.code, 2, `exit 2: ${JSON.stringify(config)}`);
      t.equal(refused.error?.code, 'PB_ERR_CONFIG');
      t.match(refused.error?.message, names, 'names the key');
      t.match(refused.error?.message, /removed with trust v1/);
      t.match(refused.error?.message, instead, 'says what to use instead');
    }
    t.same(server.requests, [], 'nothing was asked of any server');
  },
);

/** Some report the server took has a failed download whose message matches `message`. */
function reportsFailedDownload(server: { reports: ClientReport[] }, message: RegExp): boolean {
  return server.reports.some((r) =>
    r.events.some((e) => e.type === 'download' && e.outcome === 'failed' && message.test(e.message ?? '')),
  );
}

t.test('a patch file swapped for other bytes of the same size is refused', async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  server.attack = 'swap-blob';
  const res = await run(sb, installCommand, ['A']);
  t.equal(res.code, 1);
  t.same(installedMarkers(sb), []);
  t.ok(reportsFailedDownload(server, /sha256|SHA-256|digest/i), 'the report says the digest did not match');
});

t.test('an endless patch file is cut off at its signed size', async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  server.attack = 'endless-blob';
  const res = await run(sb, installCommand, ['A']);
  t.equal(res.code, 1);
  t.same(installedMarkers(sb), []);
  t.ok(reportsFailedDownload(server, /more than the expected/), 'the report says it was cut off');
  t.ok(server.endlessBytesSent < 64 * 1024 * 1024, 'the host hung up long before 64 MiB');
});

t.test('a verified file swapped in the cache (same size) is refused right before it runs', async (t) => {
  const { sb } = await setup(t);
  const download = await import('../src/commands/download.js');
  t.equal((await run(sb, download.downloadCommand, ['A'])).code, 0);
  const check = await run(sb, checkCommand);
  t.equal(check.code, 0);
  const blobs = path.join(sb.dataDir, 'cache', 'blobs', 'sha256');
  const [shard] = readdirSync(blobs);
  const [name] = readdirSync(path.join(blobs, shard!));
  const blob = path.join(blobs, shard!, name!);
  const bytes = readFileSync(blob);
  chmodSync(blob, 0o644);
  writeFileSync(blob, Buffer.from(bytes.toString('utf8').replace('install) echo', 'install) ech0')));
  const res = await run(sb, installCommand, ['A']);
  t.equal(res.code, 1);
  t.same(installedMarkers(sb), []);
  const results = res.doc.results as { id: string; outcome: string; message: string }[] | undefined;
  t.match(results?.[0]?.message ?? res.error?.message, /hash to/, 'the staged file is re-hashed and refused');
});

t.test(
  'fast-forward: versions a stolen online key pushed sky-high do not lock the host out after recovery',
  async (t) => {
    const { server, sb } = await setup(t);
    t.equal((await run(sb, checkCommand)).code, 0, 'first check against the honest server');
    // the attacker, with the online key, publishes the same content at absurd versions
    server.versions.snapshot = 999_999;
    server.versions.timestamp = 999_999;
    await server.republish();
    const pushed = await run(sb, checkCommand);
    t.equal(pushed.code, 0, 'validly signed: the host takes it (nothing to refuse yet)');
    t.equal(sb.ledger().events.at(-1)?.type, 'check');
    // recovery: the server is rebuilt (the attacker's files gone), the root holders replace the
    // online key, and the server publishes again from low versions with the new key
    for (const name of [`${1_000_000}.snapshot.json`, 'timestamp.json']) {
      rmSync(path.join(server.dir, 'metadata', name));
    }
    await server.rotateOnlineKey();
    server.versions.snapshot = 1;
    server.versions.timestamp = 1;
    await server.publish([{ id: 'A', severity: 'critical' }, { id: 'B', requires: ['A'] }, { id: 'C' }]);
    t.equal(server.versions.snapshot, 2, 'the honest server is back at snapshot 2');
    const recovered = await run(sb, checkCommand);
    t.equal(recovered.code, 0, recovered.error?.message);
    t.same(patchIds(recovered.doc), ['A', 'B', 'C'], 'the host follows the new root and the low versions');
  },
);
