// The bundled default (README "Quick start"), as `npm ci && npm start` and `npm run demo` run it,
// on trust v2: config/staging-server.json mirrors the sample TUF repository `npm run build`
// makes (packages/sample-feed/repository, DEMO publisher keys) and signs snapshot and timestamp
// with the DEMO online key; a host with config/client.json's trust.root checks and installs.
// Real processes over loopback; the bundled configs are used as they are, with only the listener
// and the data directories moved into the test directory.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { loadClientConfig } from '@patchbay/core';
import { BIN, REPO_ROOT, run, runJson, startListening, waitFor } from './helpers/processes.js';

const SERVER_CONFIG = path.join(REPO_ROOT, 'config/staging-server.json');
const CLIENT_CONFIG = path.join(REPO_ROOT, 'config/client.json');
const DEMO_ONLINE_KEYS = path.join(REPO_ROOT, 'packages/sample-feed/demo-keys/staging-server');

interface Status {
  lastSync?: { finishedAt: string | null; outcome: string; error: string | null };
  mirror?: { sequence: number; patches: number };
  trust?: { mode: string; rootVersion: number | null; onlineKeyId: string };
}

interface CheckDoc {
  patches: { id: string; state: string; severity: string }[];
}

t.test('config/staging-server.json serves, a host with config/client.json trust.root installs', async (t) => {
  const dir = t.testdir();
  const server = await startListening(BIN.server, [
    '--config',
    SERVER_CONFIG,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data-dir',
    path.join(dir, 'server'),
    '--json',
    'serve',
  ]);
  t.teardown(() => server.stop());
  const status = await waitFor('the first sync', async () => {
    const doc = (await (await fetch(`${server.url}/v1/status`)).json()) as Status;
    return doc.lastSync?.finishedAt ? doc : undefined;
  });
  t.equal(status.lastSync?.outcome, 'ok', `first sync: ${status.lastSync?.error}`);
  t.match(status.trust, { mode: 'tuf', rootVersion: 1 }, 'the upstream is the TUF repository');
  t.equal(
    status.trust?.onlineKeyId,
    JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'packages/sample-feed/repository/metadata/1.root.json'), 'utf8'),
    ).signed.roles.snapshot.keyids[1],
    'the server signs with the DEMO online key the sample root lists',
  );

  // config/client.json as it is, but for the server, the host id and where it writes
  const bundled = JSON.parse(fs.readFileSync(CLIENT_CONFIG, 'utf8')) as Record<string, unknown> & {
    products: { installDir: string }[];
  };
  const trustRoot = loadClientConfig({ file: CLIENT_CONFIG }).trust.root;
  t.ok(trustRoot && fs.existsSync(trustRoot), `trust.root ${trustRoot} exists after the build`);
  const installDir = path.join(dir, 'install');
  fs.mkdirSync(installDir);
  // Report tokens are required on every listener: the host is enrolled as README says.
  const enroll = await runJson<{ token: string }>(BIN.server, [
    '--config',
    SERVER_CONFIG,
    '--data-dir',
    path.join(dir, 'server'),
    'enroll',
    'bundled-host',
    '--json',
  ]);
  t.equal(enroll.code, 0, enroll.stderr);
  const clientConfig = path.join(dir, 'client.json');
  fs.writeFileSync(
    clientConfig,
    JSON.stringify({
      ...bundled,
      $schema: undefined,
      server: server.url,
      hostId: 'bundled-host',
      token: enroll.json.token,
      dataDir: path.join(dir, 'client'),
      products: bundled.products.map((p) => ({ ...p, installDir })),
      trust: { root: trustRoot },
    }),
  );
  const check = await runJson<CheckDoc>(BIN.client, ['--config', clientConfig, 'check']);
  t.equal(check.code, 0, check.stderr);
  t.ok(
    check.json.patches.length > 0 && check.json.patches.length <= (status.mirror?.patches ?? 0),
    'the host sees the mirrored patches for its platform',
  );
  const critical = check.json.patches.filter((p) => p.severity === 'critical').map((p) => p.id);
  t.ok(critical.length > 0, 'critical patches to install');
  const install = await runJson<{ results: { id: string; outcome: string }[] }>(BIN.client, [
    '--config',
    clientConfig,
    'install',
    '--critical',
  ]);
  t.equal(install.code, 0, install.stderr);
  t.same(
    install.json.results.map((r) => [r.id, r.outcome]),
    critical.map((id) => [id, 'ok']),
    'every critical patch installed',
  );
  for (const id of critical) {
    t.ok(fs.existsSync(path.join(installDir, 'patches', `${id}.installed`)), `${id} ran its installer`);
  }
  const doctor = await run(BIN.client, ['--config', clientConfig, 'doctor']);
  t.equal(doctor.code, 0, `doctor: ${doctor.stdout}${doctor.stderr}`);

  t.equal(await server.stop(), 0, 'the server stops cleanly');
  t.same(
    fs.readdirSync(DEMO_ONLINE_KEYS).sort(),
    ['online.key', 'online.key.pub'],
    'the server wrote nothing beside the DEMO online key',
  );
});

t.test(
  'npm start (scripts/start.mjs): serves the bundled config, says trust v2, stops on SIGINT',
  async (t) => {
    const dir = t.testdir();
    const child = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, 'scripts/start.mjs'),
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--data-dir',
        path.join(dir, 'server'),
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    t.teardown(() => {
      clearTimeout(killer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`start.mjs exited ${code} early\n${lines.join('\n')}\n${stderr}`)),
      );
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('Serving until Ctrl-C')) resolve();
      });
    });
    const out = lines.join('\n');
    t.match(out, /patchbay staging server is up: http:\/\/127\.0\.0\.1:\d+/);
    t.match(out, /upstream: file:\/\/.*packages\/sample-feed\/repository\//);
    t.match(out, /last sync: ok/);
    t.match(out, /mirror: +catalog sequence 1, 19 patches/);
    t.match(out, /trust: +TUF \(v2\): the publisher's root version 1/);
    t.match(out, /TUF: +http:\/\/127\.0\.0\.1:\d+\/v1\/tuf\/metadata\/timestamp\.json/);
    child.kill('SIGINT');
    const [code] = await exited;
    t.equal(code, 0, 'Ctrl-C stops it with exit 0');
  },
);

t.test('npm run demo (scripts/demo.mjs): check, install --critical, report, on trust v2', async (t) => {
  const demo = await run(path.join(REPO_ROOT, 'scripts/demo.mjs'), [], { timeoutMs: 180_000 });
  const work = /Everything the demo wrote is under (\S+);/.exec(demo.stdout)?.[1];
  if (work) t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  t.equal(demo.code, 0, `demo: ${demo.stdout}\n${demo.stderr}`);
  t.match(demo.stdout, /trust v2: the server mirrors packages\/sample-feed\/repository\//);
  t.match(demo.stdout, /\$ patchbay-client install --critical[\s\S]*6 ok, 0 failed, 0 skipped/);
  t.match(demo.stdout, /host demo-host-01: 6 installed, \d+ missing, 0 failed/);
  t.ok(
    work && fs.existsSync(path.join(work, 'sandbox/arcserve/patches/T5KB0201.installed')),
    'the sandbox install',
  );
  t.notMatch(demo.stderr, /mirrorKey|pinned/i, 'no v1 key pinning');
});
