// The client against a hostile staging server (CONTRACT §5, issue 4): each attack is
// refused, nothing is installed, and the report the server records says why. Commands
// run in this process (createSession + the command function) to keep the suite fast.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { ContentStore, keyFingerprint } from '@patchbay/core';
import type { ClientReport } from '@patchbay/core';
import { checkCommand } from '../src/commands/check.js';
import { doctorCommand } from '../src/commands/doctor.js';
import { installCommand } from '../src/commands/install.js';
import { statusCommand } from '../src/commands/status.js';
import { makeSandbox } from './fixtures/client.js';
import { runInProcess } from './fixtures/in-process.js';
import type { Ran } from './fixtures/in-process.js';
import type { Sandbox } from './fixtures/client.js';
import { startHostileServer } from './fixtures/hostile-server.js';
import type { Attack, HostileServer } from './fixtures/hostile-server.js';

const run = runInProcess;

// v1 (mirror key): removed with the v1 client path. Every host of this file runs trust v1 (no
// trust.root): the hostile server serves only /v1/catalog; tuf-hostile-server.test.ts is v2's.
const V1 = { trust: { root: null } };

const testDirs = new WeakMap<Test, string>();

/** t.testdir() empties the directory on every call: call it once per test. */
function testDir(t: Test): string {
  let dir = testDirs.get(t);
  if (!dir) testDirs.set(t, (dir = t.testdir()));
  return dir;
}

async function setup(t: Test, name = 'host'): Promise<{ server: HostileServer; sb: Sandbox }> {
  const server = await startHostileServer();
  t.teardown(() => server.close());
  const sb = makeSandbox(path.join(testDir(t), name), () => [server.url], V1);
  return { server, sb };
}

function lastEvents(server: HostileServer): ClientReport['events'] {
  return server.reports.flatMap((r) => r.events);
}

function installedEvents(sb: Sandbox): unknown[] {
  return sb.ledger().events.filter((e) => e.type === 'install' && e.outcome === 'ok');
}

/** The client refused the catalog with `code`, installed nothing, and reported `why`. */
function assertRefused(
  t: Test,
  sb: Sandbox,
  server: HostileServer,
  res: Ran,
  code: string,
  why: RegExp,
): void {
  t.equal(res.code, 1, 'exit 1');
  t.equal(res.error?.code, code, `refused with ${code}`);
  t.match(res.error?.message, why, 'the error says why');
  t.notOk(sb.marker('A'), 'nothing installed (no marker)');
  t.same(installedEvents(sb), [], "no 'installed' in the ledger");
  const refusal = lastEvents(server).find((e) => e.type === 'error' && why.test(e.message ?? ''));
  t.ok(refusal, `the report carries an error event saying why (${why})`);
}

t.test('first contact pins the key; a legitimate catalog installs', async (t) => {
  const { server, sb } = await setup(t);
  const check = await run(sb, checkCommand);
  t.equal(check.code, 0, check.error?.message);
  const pins = JSON.parse(readFileSync(path.join(sb.dataDir, 'trust', 'mirror-key.json'), 'utf8')) as {
    servers: Record<string, { key: string; fingerprint: string; server: string; pinnedAt: string }>;
  };
  t.equal(
    pins.servers[server.url]?.fingerprint,
    keyFingerprint(server.key.publicKey),
    'pinned per server URL',
  );
  t.match(check.stderr, /first contact .* pinned its key/, 'says so');
  t.ok(existsSync(path.join(sb.dataDir, 'catalog.sig')), 'the signature is cached beside the catalog');
  const install = await run(sb, installCommand, ['A']);
  t.equal(install.code, 0, install.error?.message);
  t.ok(sb.marker('A'));
  const report = server.reports.at(-1) as ClientReport & {
    catalogSequence?: number;
    catalogExpired?: boolean;
  };
  t.equal(report.catalogSequence, server.sequence, 'the report names the catalog sequence');
  t.notOk(report.catalogExpired);
});

const refusals: { attack: Attack; code: string; why: RegExp }[] = [
  { attack: 'modify-byte', code: 'PB_ERR_SIGNATURE', why: /signature does not verify/ },
  {
    attack: 'replay-old',
    code: 'PB_ERR_CATALOG_STALE',
    why: /catalog sequence 3 is older than 5, already accepted: refusing \(rollback\)/,
  },
  { attack: 'expired', code: 'PB_ERR_CATALOG_STALE', why: /expired at/ },
  {
    attack: 'new-key',
    code: 'PB_ERR_SIGNATURE',
    why: /key changed from [0-9a-f]{16} to [0-9a-f]{16}; refusing/,
  },
  { attack: 'rotate-wrong-endorser', code: 'PB_ERR_SIGNATURE', why: /key changed from/ },
  { attack: 'no-signature', code: 'PB_ERR_SIGNATURE', why: /no signature/ },
  { attack: 'empty-signature', code: 'PB_ERR_SIGNATURE', why: /no signature/ },
];

for (const { attack, code, why } of refusals) {
  t.test(`refused: ${attack}`, async (t) => {
    const { server, sb } = await setup(t);
    t.equal((await run(sb, checkCommand)).code, 0, 'first contact with the honest server');
    const catalogBefore = readFileSync(path.join(sb.dataDir, 'catalog.json'));
    server.attack = attack;
    const res = await run(sb, installCommand, ['A']);
    assertRefused(t, sb, server, res, code, why);
    t.equal(server.blobRequests, 0, 'nothing downloaded');
    if (attack !== 'expired') {
      t.same(readFileSync(path.join(sb.dataDir, 'catalog.json')), catalogBefore, 'nothing of it cached');
    }
  });
}

t.test(
  'an expired catalog is still shown by check and status, failed by doctor, flagged in the report',
  async (t) => {
    const { server, sb } = await setup(t);
    server.attack = 'expired';
    const check = await run(sb, checkCommand);
    t.equal(check.code, 0, 'check shows it');
    t.equal(check.doc.catalogExpired, true);
    t.match(check.stderr, /expired/);
    const report = server.reports.at(-1) as ClientReport & {
      catalogSequence?: number;
      catalogExpired?: boolean;
    };
    t.equal(report.catalogExpired, true, 'report: catalogExpired');
    t.equal(report.catalogSequence, server.sequence + 1, 'report: catalogSequence');
    const status = await run(sb, statusCommand);
    t.equal(status.code, 0);
    t.equal(status.doc.catalogExpired, true);
    const doctor = await run(sb, doctorCommand);
    t.equal(doctor.code, 1, 'doctor fails');
    const checks = doctor.doc.checks as { check: string; ok: boolean; message: string }[];
    t.ok(
      checks.some((c) => !c.ok && /expired at/.test(c.message)),
      'a failing check names the expiry',
    );
  },
);

t.test('a blob swapped for other bytes of the same size is refused', async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  server.attack = 'swap-blob';
  const res = await run(sb, installCommand, ['A']);
  t.equal(res.code, 1);
  t.notOk(sb.marker('A'));
  t.same(installedEvents(sb), []);
  t.ok(
    lastEvents(server).some(
      (e) => e.type === 'download' && e.outcome === 'failed' && /SHA-256/.test(e.message ?? ''),
    ),
    'the report says the digest did not match',
  );
});

t.test('an endless blob body is cut off at the signed size', async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  server.attack = 'endless-blob';
  const res = await run(sb, installCommand, ['A']);
  t.equal(res.code, 1);
  t.notOk(sb.marker('A'));
  t.ok(
    lastEvents(server).some(
      (e) =>
        e.type === 'download' && e.outcome === 'failed' && /more than the expected/.test(e.message ?? ''),
    ),
    'the report says it was cut off',
  );
  t.ok(server.endlessBytesSent < 64 * 1024 * 1024, 'the client hung up long before the cap of a catalog');
});

t.test('a cached blob swapped on disk (same size) is refused right before it runs', async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  const download = await import('../src/commands/download.js');
  t.equal((await run(sb, download.downloadCommand, ['A'])).code, 0);
  const store = new ContentStore(path.join(sb.dataDir, 'cache'));
  const catalog = JSON.parse(readFileSync(path.join(sb.dataDir, 'catalog.json'), 'utf8')) as {
    patches: { files: { sha256: string }[] }[];
  };
  const blob = store.blobPath(catalog.patches[0]!.files[0]!.sha256);
  const bytes = readFileSync(blob);
  chmodSync(blob, 0o644);
  writeFileSync(blob, Buffer.from(bytes.toString('utf8').replace('install) echo', 'install) ech0')));
  const res = await run(sb, installCommand, ['A']);
  t.equal(res.code, 1);
  t.notOk(sb.marker('A'));
  const results = res.doc.results as { id: string; outcome: string; message: string }[];
  t.match(results[0]?.message, /hash to/, 'the staged file is re-hashed and refused');
  void server;
});

t.test(
  'trust.mirrorKey: the right key accepts, another key refuses, a bad one is a config error',
  async (t) => {
    const { server, sb } = await setup(t);
    sb.writeConfig({ trust: { mirrorKey: server.key.publicKey } });
    t.equal((await run(sb, installCommand, ['A'])).code, 0, 'accepted with the right key');
    t.ok(sb.marker('A'));
    t.notOk(existsSync(path.join(sb.dataDir, 'trust', 'mirror-key.json')), 'nothing pinned with mirrorKey');

    const other = await setup(t, 'other');
    other.sb.writeConfig({ trust: { mirrorKey: server.otherKey.publicKey } });
    const res = await run(other.sb, installCommand, ['A']);
    assertRefused(
      t,
      other.sb,
      other.server,
      res,
      'PB_ERR_SIGNATURE',
      /signature does not verify against trust.mirrorKey/,
    );

    other.sb.writeConfig({ trust: { mirrorKey: 'not a key' } });
    const bad = await run(other.sb, checkCommand);
    t.equal(bad.code, 2, 'exit 2');
    t.match(bad.error?.message, /trust\.mirrorKey/);
  },
);

t.test('rotation: an endorsement by the pinned key is accepted and re-pinned', async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  server.attack = 'rotate-endorsed';
  const res = await run(sb, installCommand, ['A']);
  t.equal(res.code, 0, res.error?.message);
  t.match(res.stderr, /rotated its key/);
  const pins = JSON.parse(readFileSync(path.join(sb.dataDir, 'trust', 'mirror-key.json'), 'utf8')) as {
    servers: Record<string, { fingerprint: string }>;
  };
  t.equal(pins.servers[server.url]?.fingerprint, keyFingerprint(server.otherKey.publicKey), 're-pinned');
  t.ok(sb.marker('A'));
  // the rollback line follows the rotation: the old key's sequence still counts
  server.attack = 'none';
  const back = await run(sb, checkCommand);
  t.equal(back.error?.code, 'PB_ERR_SIGNATURE', 'the old key is no longer trusted after the rotation');
});

t.test('a tampered cache is refused (status, and offline install)', async (t) => {
  const { server, sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  const file = path.join(sb.dataDir, 'catalog.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace('Fixture patch', 'Gixture patch'));
  const status = await run(sb, statusCommand);
  t.equal(status.code, 1);
  t.equal(status.error?.code, 'PB_ERR_SIGNATURE');
  t.match(status.error?.message, /signature does not verify/);
  await server.close();
  const offline = await run(sb, installCommand, ['A']);
  t.equal(offline.error?.code, 'PB_ERR_SIGNATURE', 'offline install from the tampered cache refused');
  t.notOk(sb.marker('A'));
});

t.test('online, a tampered cache is replaced by a fresh verified copy', async (t) => {
  const { sb } = await setup(t);
  t.equal((await run(sb, checkCommand)).code, 0);
  const file = path.join(sb.dataDir, 'catalog.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace('Fixture patch', 'Gixture patch'));
  const install = await run(sb, installCommand, ['A']);
  t.equal(install.code, 0, install.error?.message);
  t.ok(sb.marker('A'));
  t.notMatch(readFileSync(file, 'utf8'), /Gixture/);
});

t.test('a cache replaced by an older signed catalog is refused (rollback on disk)', async (t) => {
  const { server, sb } = await setup(t);
  server.attack = 'replay-old';
  // a client that only ever saw sequence 3 accepts it...
  const first = makeSandbox(path.join(testDir(t), 'first'), () => [server.url], V1);
  t.equal((await run(first, checkCommand)).code, 0);
  server.attack = 'none';
  t.equal((await run(sb, checkCommand)).code, 0, 'this one accepted 5');
  for (const name of ['catalog.json', 'catalog.sig', 'catalog.meta.json']) {
    writeFileSync(path.join(sb.dataDir, name), readFileSync(path.join(first.dataDir, name)));
  }
  const status = await run(sb, statusCommand);
  t.equal(status.error?.code, 'PB_ERR_CATALOG_STALE');
  t.match(status.error?.message, /older than 5/);
});

t.test('several staging servers: each one pinned with its own key', async (t) => {
  const one = await startHostileServer();
  const two = await startHostileServer();
  t.teardown(() => Promise.all([one.close(), two.close()]));
  const sb = makeSandbox(testDir(t), () => [one.url, two.url], V1);
  t.equal((await run(sb, checkCommand)).code, 0);
  await one.close();
  const failover = await run(sb, checkCommand);
  t.equal(failover.code, 0, failover.error?.message);
  const pins = JSON.parse(readFileSync(path.join(sb.dataDir, 'trust', 'mirror-key.json'), 'utf8')) as {
    servers: Record<string, { fingerprint: string }>;
  };
  t.equal(pins.servers[one.url]?.fingerprint, keyFingerprint(one.key.publicKey));
  t.equal(pins.servers[two.url]?.fingerprint, keyFingerprint(two.key.publicKey));
});

// Issue 13, Why 1: a man in the middle answers 404 for the catalog and serves a vendor feed
// of its own. Whether a server is a staging server comes from the config, never from an
// answer: the 404 is an error, nothing of the feed is read, and none of its commands runs.
t.test('downgrade: a 404 for the catalog never turns a staging server into an unsigned feed', async (t) => {
  const dir = testDir(t);
  const pwned = path.join(dir, 'pwned');
  const server = await startHostileServer([{ id: 'A', severity: 'critical' }], 5, pwned);
  t.teardown(() => server.close());
  const pinned = makeSandbox(path.join(dir, 'pinned'), () => [server.url], V1);
  const configured = makeSandbox(path.join(dir, 'configured'), () => [server.url], V1);
  configured.writeConfig({ trust: { mirrorKey: server.key.publicKey } });
  t.equal((await run(pinned, checkCommand)).code, 0, 'first contact pins the honest key');

  server.attack = 'downgrade-feed';
  for (const [name, sb] of [
    ['a client that pinned the key', pinned],
    ['a client configured with trust.mirrorKey', configured],
  ] as const) {
    const check = await run(sb, checkCommand);
    t.equal(check.code, 1, `${name}: check fails`);
    t.match(check.error?.message ?? '', /404/, `${name}: the error is the 404`);
    const install = await run(sb, installCommand, ['A']);
    t.equal(install.code, 1, `${name}: install fails`);
    t.notOk(existsSync(pwned), `${name}: no command of the attacker's feed ran`);
    t.notOk(
      existsSync(path.join(sb.dataDir, 'trust', 'server-kinds.json')),
      `${name}: nothing is remembered about the server's kind`,
    );
  }
  t.equal(server.feedRequests, 0, "the attacker's feed.json was never even asked for");
  t.notOk(existsSync(pwned));
});

t.test('a feed-shaped server is refused without trust.feedKey: no unsigned document is used', async (t) => {
  const dir = testDir(t);
  const pwned = path.join(dir, 'pwned');
  const server = await startHostileServer([{ id: 'A', severity: 'critical' }], 5, pwned);
  t.teardown(() => server.close());
  server.attack = 'downgrade-feed';
  const sb = makeSandbox(path.join(dir, 'host'), () => [`${server.url}/feed.json`], V1);
  const check = await run(sb, checkCommand);
  t.equal(check.code, 1, 'check fails');
  t.equal(check.error?.code, 'PB_ERR_SIGNATURE');
  t.match(check.error?.message ?? '', /trust\.feedKey/, 'the error says what to configure');
  const install = await run(sb, installCommand, ['A']);
  t.equal(install.code, 1, 'install fails');
  t.notOk(existsSync(pwned), 'no command of the unsigned feed ran');
});
