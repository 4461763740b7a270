// Failover, the report outbox, offline work from the cache, resumed downloads, the daemon loop.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { roleNameFor } from '@patchbay/core/tuf';
import { checkCommand } from '../src/commands/check.js';
import { doctorCommand } from '../src/commands/doctor.js';
import { installCommand } from '../src/commands/install.js';
import { statusCommand } from '../src/commands/status.js';
import { BIN, makeSandbox } from './fixtures/client.js';
import { runInProcess } from './fixtures/in-process.js';
import { PRODUCT, RELEASE, buildCatalog, closedPortUrl, startStaging } from './fixtures/staging.js';

interface Result {
  id: string;
  outcome: string;
  message: string;
}

t.test('fails over to the second server when the first is closed, then when it answers 500', async (t) => {
  const built = buildCatalog([{ id: 'A' }]);
  const second = await startStaging(built);
  t.teardown(() => second.close());
  const closed = await closedPortUrl();
  const sb = makeSandbox(t.testdir(), () => [closed, second.url]);
  const { code, doc } = await sb.json<{ results: Result[] }>(['install', 'A']);
  t.equal(code, 0);
  t.equal(doc.results[0]?.outcome, 'ok');
  t.ok(sb.marker('A'));
  t.ok(second.reports.length > 0, 'reports went to the second server');

  const first = await startStaging(built);
  t.teardown(() => first.close());
  first.mode = '500';
  sb.writeConfig({ server: [first.url, second.url] });
  const before = second.requests.length;
  const check = await sb.json<{ patches: { id: string; state: string }[] }>(['check']);
  t.equal(check.code, 0);
  t.notOk('offline' in check.doc);
  // trust v2: the first request is for a newer root (2.root.json), answered 500
  t.ok(
    first.requests.some((r) => r.url.startsWith('/v1/tuf/metadata/')),
    'the first server was asked',
  );
  t.ok(
    second.requests.slice(before).some((r) => r.url === '/v1/tuf/metadata/timestamp.json'),
    'then the second one',
  );
  t.equal(first.reports.length, 0);
});

t.test('an undeliverable report waits on disk; the next command delivers each seq once', async (t) => {
  const built = buildCatalog([{ id: 'A' }, { id: 'B', requires: ['A'] }]);
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  t.equal((await sb.run(['check'])).code, 0, 'catalog cached');
  const acked = sb.ledger().lastAckedSeq;

  staging.mode = '500';
  // blobs are not cached yet, so fetch them first while the server serves
  staging.mode = 'ok';
  t.equal((await sb.run(['download', 'B'])).code, 0);
  staging.mode = '500';
  const reportsBefore = staging.reports.length;
  const install = await sb.json<{ results: Result[]; offline?: boolean }>(['install', 'B']);
  t.equal(install.code, 0, 'installs from the cached catalog and blobs');
  t.equal(install.doc.offline, true);
  t.equal(staging.reports.length, reportsBefore, 'nothing was accepted while the server answered 500');
  const ledger = sb.ledger();
  const pending = ledger.events.filter((e) => e.seq > ledger.lastAckedSeq);
  t.same(
    pending.filter((e) => e.type === 'install').map((e) => e.patchId),
    ['A', 'B'],
    'install events wait on disk',
  );
  t.ok(ledger.lastAckedSeq >= acked);

  staging.mode = 'ok';
  const history = await sb.json<{ events: { seq: number; reported: boolean }[] }>(['history']);
  t.ok(
    history.doc.events.some((e) => !e.reported),
    'history shows unreported events',
  );
  t.equal((await sb.run(['check'])).code, 0);
  const seqs = staging.reports.flatMap((r) => r.events.map((e) => e.seq));
  t.same(seqs, [...new Set(seqs)], 'no seq was sent twice');
  const all = sb.ledger().events.map((e) => e.seq);
  t.same(
    seqs.sort((a, b) => a - b),
    all,
    'every event reached the server',
  );
  const installs = staging.reports.flatMap((r) => r.events).filter((e) => e.type === 'install');
  t.same(
    installs.map((e) => [e.patchId, e.outcome]),
    [
      ['A', 'ok'],
      ['B', 'ok'],
    ],
  );
  t.equal(staging.reports.at(-1)?.hostId, 'test-host');
  t.same(staging.reports.at(-1)?.products, [{ id: 'arcserve-backup', release: '19.0' }]);
});

t.test('offline: check and status work from the cached catalog and say so', async (t) => {
  const built = buildCatalog([{ id: 'A' }, { id: 'B' }]);
  const staging = await startStaging(built);
  const dir = t.testdir({ cached: {}, empty: {} });
  const sb = makeSandbox(`${dir}/cached`, () => [staging.url]);
  const noCache = makeSandbox(`${dir}/empty`, () => [staging.url]);
  t.equal((await sb.run(['check'])).code, 0);
  await staging.close();

  const human = await sb.run(['check']);
  t.equal(human.code, 1, 'offline: the list is shown, the exit says no server answered');
  t.match(human.stderr, /staging server unreachable; using cached catalog from \d{4}-\d\d-\d\dT/);
  t.match(human.stdout, /A\s+recommended/);
  t.match(
    human.stdout,
    /^offline: no staging server answered; this list is from the cached catalog fetched at \d{4}-/m,
  );
  const json = await sb.json<{ patches: unknown[]; offline?: boolean }>(['check']);
  t.equal(json.code, 1);
  t.equal(json.doc.offline, true);
  t.equal(json.doc.patches.length, 2);
  const status = await sb.json<{ patches: unknown[] }>(['status']);
  t.equal(status.code, 0);
  t.equal(status.doc.patches.length, 2);

  const none = await noCache.run(['check']);
  t.equal(none.code, 1);
  t.match(none.stderr, /no verified metadata is kept/);
  const noneJson = await noCache.json<{ error: { code: string } }>(['check']);
  t.equal(noneJson.doc.error.code, 'PB_ERR_NO_CATALOG');
});

t.test('a download cut off mid-way resumes from the partial file', async (t) => {
  const built = buildCatalog([{ id: 'A', padBytes: 256 * 1024 }]);
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  const file = built.catalog.patches[0]!.files[0]!;
  staging.dropAfter.set(file.sha256, Math.floor(file.size / 2));
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  // retries 0: the first command fails on the drop, the next one resumes from the partial
  const first = await sb.json<{ results: Result[] }>(['install', 'A']);
  t.equal(first.code, 1);
  t.match(first.doc.results[0]?.message, /download|closed|socket|terminated/i);
  const { code, doc } = await sb.json<{ results: Result[] }>(['install', 'A']);
  t.equal(code, 0, JSON.stringify(doc));
  t.ok(sb.marker('A'));
  const blobGets = staging.requests.filter((r) => r.url.endsWith(file.sha256));
  t.equal(blobGets.length, 2, 'the blob was requested again');
  t.equal(blobGets[1]?.headers.range, `bytes=${Math.floor(file.size / 2)}-`, 'with a Range for the rest');
  t.equal(blobGets[1]?.headers['if-range'], `"${file.sha256}"`);
});

t.test('run --once installs critical patches by policy and reports', async (t) => {
  const built = buildCatalog([
    { id: 'CRIT', severity: 'critical' },
    { id: 'OPT', severity: 'optional' },
  ]);
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  sb.writeConfig({ policy: { autoInstall: 'critical' } });
  const res = await sb.run(['run', '--once']);
  t.equal(res.code, 0, res.stderr);
  t.ok(sb.marker('CRIT'));
  t.notOk(sb.marker('OPT'), 'only critical patches install automatically');
  const types = staging.reports.flatMap((r) => r.events.map((e) => e.type));
  t.ok(types.includes('check') && types.includes('install'));
});

t.test('run stops cleanly on SIGTERM', async (t) => {
  const built = buildCatalog([{ id: 'A' }]);
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  const child = spawn(process.execPath, [BIN, '--config', sb.configPath, 'run'], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // two cycles (intervalSeconds 1) reach the server
  const deadline = Date.now() + 20_000;
  while (staging.reports.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.ok(staging.reports.length >= 2, 'the daemon checked and reported on its interval');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit 0 after SIGTERM');
});

t.test('doctor prints a line per check and fails when one does', async (t) => {
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  t.teardown(() => staging.close());
  const closed = await closedPortUrl();
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  const good = await sb.run(['doctor']);
  t.equal(good.code, 0, good.stdout + good.stderr);
  t.match(good.stdout, /^ok\s+config/m);
  t.match(
    good.stdout,
    new RegExp(
      `^ok\\s+server ${staging.url}: reachable; TUF metadata verifies against trust\\.root \\(root version 1\\); ` +
        `snapshot ${staging.tuf.snapshot}, 1 patches`,
      'm',
    ),
  );
  t.match(good.stdout, /^ok\s+cache .*MiB free/m);
  t.match(good.stdout, /^ok\s+products\[0\].*installDir.*writable/m);

  sb.writeConfig({
    server: [staging.url, closed],
    products: [{ id: 'arcserve-backup', release: '19.0', installDir: `${sb.dir}/missing` }],
  });
  const bad = await sb.json<{ ok: boolean; checks: { check: string; ok: boolean }[] }>(['doctor']);
  t.equal(bad.code, 1);
  t.equal(bad.doc.ok, false);
  t.same(
    bad.doc.checks.filter((c) => !c.ok).map((c) => c.check.split(' ')[0]),
    ['server', 'products[0]'],
  );
});

t.test('trust v2: a refresh cut off after the timestamp leaves the kept metadata usable', async (t) => {
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  t.equal((await sb.run(['check'])).code, 0);
  await staging.setCatalog(buildCatalog([{ id: 'A' }, { id: 'B' }]));
  // the new timestamp arrives, then the connection drops inside the snapshot it names
  staging.dropAfter.set(`${staging.tuf.snapshot}.snapshot.json`, 10);
  const cut = await sb.json<{ patches: { id: string }[]; offline?: boolean }>(['check']);
  t.equal(cut.code, 1, cut.stderr);
  t.equal(cut.doc.offline, true, 'works from the kept metadata, and says so');
  t.same(
    cut.doc.patches.map((p) => p.id),
    ['A'],
    'the last complete verified metadata',
  );
  const status = await sb.json<{ patches: { id: string }[] }>(['status']);
  t.equal(status.code, 0, status.stderr);
  t.same(
    status.doc.patches.map((p) => p.id),
    ['A'],
  );
  const again = await sb.json<{ patches: { id: string }[]; offline?: boolean }>(['check']);
  t.equal(again.code, 0, again.stderr);
  t.notOk(again.doc.offline);
  t.same(
    again.doc.patches.map((p) => p.id),
    ['A', 'B'],
    'the next refresh completes',
  );
});

t.test('trust v2: metadata changed in transit is refused, reported, and the kept copy stays', async (t) => {
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  t.equal((await sb.run(['check'])).code, 0);
  await staging.setCatalog(buildCatalog([{ id: 'A' }, { id: 'B' }]));
  staging.corrupt.add('timestamp.json');
  const refused = await sb.json<{ error?: { code: string; message: string } }>(['install', 'B']);
  t.equal(refused.code, 1);
  t.equal(refused.doc.error?.code, 'PB_ERR_TUF_VERIFY');
  t.match(refused.doc.error?.message, /timestamp/);
  t.notOk(sb.marker('B'), 'nothing installed');
  t.ok(
    staging.reports.some((r) =>
      r.events.some((e) => e.type === 'error' && /catalog refused: .*timestamp/.test(e.message ?? '')),
    ),
    'the report says why',
  );
  const status = await sb.json<{ patches: { id: string }[] }>(['status']);
  t.equal(status.code, 0, status.stderr);
  t.same(
    status.doc.patches.map((p) => p.id),
    ['A'],
    'nothing of the refused metadata was kept',
  );
  staging.corrupt.clear();
  const install = await sb.json<{ results: Result[] }>(['install', 'B']);
  t.equal(install.code, 0, install.stderr);
  t.ok(sb.marker('B'));
});

t.test(
  'trust v2: kept metadata changed on disk is refused offline; online it is fetched again',
  async (t) => {
    const staging = await startStaging(buildCatalog([{ id: 'A' }]));
    t.teardown(() => staging.close());
    const sb = makeSandbox(t.testdir(), () => [staging.url]);
    t.equal((await sb.run(['check'])).code, 0);
    const servers = path.join(sb.dataDir, 'tuf', 'servers');
    const role = path.join(servers, readdirSync(servers)[0]!, `${roleNameFor(PRODUCT, RELEASE)}.json`);
    const tamper = (): void =>
      writeFileSync(role, readFileSync(role, 'utf8').replace('Fixture patch', 'Gixture patch'));
    tamper();
    const status = await sb.json(['status']);
    t.equal(status.code, 1, 'status (never online) refuses the changed role');
    const install = await sb.json<{ results: Result[] }>(['install', 'A']);
    t.equal(install.code, 0, 'online, a fresh verified copy replaces it');
    t.ok(sb.marker('A'));
    t.notMatch(readFileSync(role, 'utf8'), /Gixture/);
    tamper();
    await staging.close();
    const offline = await sb.json(['uninstall', 'A']);
    t.equal(offline.code, 1, 'offline, the changed role is refused');
    t.ok(sb.marker('A'), 'nothing ran from it');
  },
);

t.test('trust v2: kept metadata that expired is shown offline, never installed from', async (t) => {
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  await staging.setCatalog(buildCatalog([{ id: 'A' }, { id: 'B' }]));
  t.equal((await sb.run(['check'])).code, 0, 'checked while the timestamp is fresh');
  await staging.close();
  // two days on (the fixture's timestamp lives one): an injected clock, not a wait
  const later = { now: () => new Date(Date.now() + 2 * 86_400_000) };

  const status = await runInProcess(sb, statusCommand, [], later);
  t.equal(status.code, 0, status.error?.message);
  t.equal(status.doc.catalogExpired, true);
  t.ok(
    Date.parse(String(status.doc.expiresAt)) <= later.now().getTime(),
    'expiresAt: when the timestamp expired',
  );
  t.match(status.stderr, /expired at/);
  t.same(
    (status.doc.patches as { id: string }[]).map((p) => p.id),
    ['A', 'B'],
  );
  const check = await runInProcess(sb, checkCommand, [], later);
  t.equal(check.code, 1, check.error?.message);
  t.equal(check.doc.offline, true);
  t.equal(check.doc.catalogExpired, true);
  const install = await runInProcess(sb, installCommand, ['A'], later);
  t.equal(install.code, 1);
  t.equal(install.error?.code, 'PB_ERR_CATALOG_STALE');
  t.match(install.error?.message, /expired at .*refusing to install/);
  t.notOk(sb.marker('A'), 'nothing installed from expired metadata');
  const doctor = await runInProcess(sb, doctorCommand, [], later);
  t.equal(doctor.code, 1);
  t.ok(
    (doctor.doc.checks as { check: string; ok: boolean; message: string }[]).some(
      (c) => c.check.startsWith('kept TUF metadata') && !c.ok && /expired at/.test(c.message),
    ),
    'doctor fails the kept metadata, naming the expiry',
  );

  const now = await runInProcess(sb, statusCommand);
  t.notOk(now.doc.catalogExpired, 'with the real clock the same kept metadata is fresh');
});
