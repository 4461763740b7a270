// Tiered mirrors end to end, real processes over loopback: reference upstream ->
// head-office server -> branch server (upstream = the head office's /v1/catalog, verified
// with its mirror key) -> client install; the client's report reaches the head office
// through the branch's rollup, marked with the branch. Then the head office is pointed at
// the branch (A <-> B): its sync refuses the loop and keeps serving what it had.
// This is the v1 tier (a branch reading the head office's /v1/catalog with its mirror key); the
// same topology under trust v2 (a branch mirroring the DMZ's TUF repository from the
// publisher's root, the rollup, the loop refused) is test/e2e-trust-tiers.test.ts.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, runJson, startListening, waitFor, type LongRunning } from './helpers/processes.js';
import { startStack, type StatusDocument } from './helpers/stack.js';

interface Keys {
  mirror: string;
  fingerprint: string;
}
interface Catalog {
  sequence: number;
  upstreamSequence: number;
  mirrorChain?: string[];
  patches: { id: string; files: { url: string }[] }[];
}
interface ClientRow {
  hostId: string;
  via?: string;
  installed: number;
}

async function getJson<T>(base: string, urlPath: string): Promise<T> {
  const res = await fetch(`${base}${urlPath}`);
  if (!res.ok) throw new Error(`GET ${base}${urlPath}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

t.test('vendor -> head office -> branch -> client, report rolled up; A <-> B loop refused', async (t) => {
  const dir = t.testdir();
  // v1 (mirror key): removed with the v1 client path
  const ho = await startStack(dir, { trust: 'v1', releases: ['19.0'] });
  const running: { branch?: LongRunning } = {};
  t.teardown(async () => {
    await running.branch?.stop();
    await ho.stop();
  });
  const hoKeys = await ho.getJson<Keys>('/v1/keys');
  const hoCatalog = await ho.getJson<Catalog>('/v1/catalog');
  t.same(hoCatalog.mirrorChain, [hoKeys.fingerprint], 'the head office lists itself in the chain');

  const enroll = await runJson<{ hostId: string; token: string }>(
    BIN.server,
    ['--config', ho.serverConfig, 'enroll', '--branch', 'branch-b'],
    { cwd: dir },
  );
  t.equal(enroll.code, 0, enroll.stderr);

  const branchConfig = path.join(dir, 'branch.json');
  fs.writeFileSync(
    branchConfig,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: './branch-data',
      upstream: { url: `${ho.server.url}/v1/catalog`, publicKey: hoKeys.mirror, retries: 1 },
      mirror: {},
      schedule: { sync: null },
      // its hosts report without tokens here (required is the default; e2e-security tests it)
      auth: { reportTokens: 'optional' },
      rollup: {
        url: ho.server.url,
        branchId: 'branch-b',
        token: enroll.json.token,
        schedule: null,
        intervalSeconds: 1,
      },
    }),
  );
  const branch = await startListening(BIN.server, ['--config', branchConfig, 'serve', '--json'], {
    cwd: dir,
  });
  running.branch = branch;
  const branchUrl = branch.url;
  const synced = await waitFor('the branch to mirror the head office', async () => {
    const status = await getJson<StatusDocument>(branchUrl, '/v1/status');
    return status.lastSync?.finishedAt ? status : undefined;
  });
  t.equal(synced.lastSync?.outcome, 'ok', synced.lastSync?.error ?? '');
  t.equal(synced.lastSync?.upstreamSequence, hoCatalog.sequence, "the parent's sequence is the feed's");
  const branchKeys = await getJson<Keys>(branchUrl, '/v1/keys');
  const branchCatalog = await getJson<Catalog>(branchUrl, '/v1/catalog');
  t.same(
    branchCatalog.mirrorChain,
    [hoKeys.fingerprint, branchKeys.fingerprint],
    'the branch appends itself',
  );
  t.same(
    branchCatalog.patches.map((p) => p.id),
    hoCatalog.patches.map((p) => p.id),
    'the branch serves what the head office serves',
  );

  // A client of the branch installs from it and reports to it.
  const client = ho.writeClientConfig('db-01', '19.0', { server: branchUrl });
  const install = await runJson<{ results: { id: string; outcome: string }[] }>(BIN.client, [
    '--config',
    client.config,
    'install',
    '--critical',
  ]);
  t.equal(install.code, 0, install.stderr);
  const installed = install.json.results.filter((r) => r.outcome === 'ok').length;
  t.ok(installed > 0, `${installed} patches installed from the branch`);
  const atBranch = await getJson<ClientRow[]>(branchUrl, '/v1/clients');
  t.match(atBranch, [{ hostId: 'db-01', installed }], 'the branch has the report');
  t.notOk('via' in (atBranch[0] ?? {}), 'at the branch the host reports directly');

  // The head office sees the host through the branch's rollup.
  const atHo = await waitFor('the head office to see db-01', async () => {
    const clients = await ho.getJson<ClientRow[]>('/v1/clients');
    const row = clients.find((c) => c.hostId === 'db-01');
    return row && row.installed === installed ? row : undefined;
  });
  t.equal(atHo.via, 'branch-b', 'marked with the branch it reports through');
  const history = await ho.getJson<{ hostId: string; type: string; via?: string }[]>(
    '/v1/reports/history?host=db-01&type=install',
  );
  t.equal(history.length, installed, 'every install event once');
  t.ok(history.every((e) => e.via === 'branch-b'));
  const compliance =
    await ho.getJson<{ hosts: Record<string, string>; via?: Record<string, string> }[]>(
      '/v1/reports/compliance',
    );
  t.ok(compliance.some((row) => row.hosts['db-01'] === 'installed' && row.via?.['db-01'] === 'branch-b'));
  const rollup = await getJson<{ last: { error: string | null; lastSuccessAt: string | null } }>(
    branchUrl,
    '/v1/rollup',
  );
  t.equal(rollup.last.error, null);
  t.ok(rollup.last.lastSuccessAt);

  // A child that names another key than the parent's refuses the parent's catalog.
  const wrongKeyConfig = path.join(dir, 'wrong-key.json');
  fs.writeFileSync(
    wrongKeyConfig,
    JSON.stringify({
      dataDir: './wrong-key-data',
      upstream: { url: `${ho.server.url}/v1/catalog`, publicKey: branchKeys.mirror, retries: 0 },
      mirror: {},
    }),
  );
  const wrongKey = await runJson<{ outcome: string; error: string }>(
    BIN.server,
    ['--config', wrongKeyConfig, 'sync'],
    { cwd: dir },
  );
  t.equal(wrongKey.code, 1);
  t.match(
    wrongKey.json.error,
    /v1\/catalog\.sig does not verify/,
    'the signature is checked with upstream.publicKey',
  );

  // A <-> B: the head office now takes the branch as its upstream. Its sync refuses the loop.
  const hoConfig = JSON.parse(fs.readFileSync(ho.serverConfig, 'utf8')) as Record<string, unknown>;
  hoConfig.upstream = { url: `${branchUrl}/v1/catalog`, publicKey: branchKeys.mirror, retries: 0 };
  fs.writeFileSync(ho.serverConfig, JSON.stringify(hoConfig));
  await ho.restartServer();
  const refused = await waitFor('the head office sync to finish', async () => {
    const status = await ho.getJson<StatusDocument>('/v1/status');
    return status.lastSync?.finishedAt ? status : undefined;
  });
  t.equal(refused.lastSync?.outcome, 'failed');
  t.match(refused.lastSync?.error, /PB_ERR_MIRROR_LOOP/);
  t.match(
    refused.lastSync?.error,
    `${hoKeys.fingerprint} -> ${branchKeys.fingerprint}`,
    'the error names the chain',
  );
  const still = await ho.getJson<Catalog>('/v1/catalog');
  t.equal(still.sequence, hoCatalog.sequence, 'the head office keeps serving its own catalog');

  // The branch's next sync still works against the (unchanged) head office catalog.
  const resync = await fetch(`${branchUrl}/v1/sync`, { method: 'POST' });
  t.equal(resync.status, 202);
});
