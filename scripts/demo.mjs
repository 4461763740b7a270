// `npm run demo`: a staging server on the bundled sample TUF repository (the sample feed signed by
// the DEMO publisher keys, packages/sample-feed/repository, made by `npm run build`) and one
// client that trusts only that repository's root, against a sandbox product install, both in a
// fresh temporary directory: check -> install --critical -> the report as the server sees it.
// Stops the server at the end; leaves only the temp directory.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const serverBin = path.join(root, 'packages/staging-server/bin/patchbay-server.js');
const clientBin = path.join(root, 'packages/client-daemon/bin/patchbay-client.js');
// The bundled trust v2 setup, as config/staging-server.json and config/client.json name it.
const repository = path.join(root, 'packages/sample-feed/repository');
const trustedRoot = path.join(repository, 'metadata/1.root.json');
const onlineKey = path.join(root, 'packages/sample-feed/demo-keys/staging-server/online.key');
if (!fs.existsSync(trustedRoot)) {
  console.error(`patchbay demo: ${trustedRoot} is missing: run npm run build (npm ci runs it) first`);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-demo-'));
const sandbox = path.join(work, 'sandbox/arcserve');
fs.mkdirSync(path.join(sandbox, 'patches'), { recursive: true });

const serverConfig = path.join(work, 'staging-server.json');
fs.writeFileSync(
  serverConfig,
  JSON.stringify(
    {
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: './server',
      upstream: { url: pathToFileURL(`${repository}/`).href, trustedRoot },
      signing: { onlineKeyFile: onlineKey },
      mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
    },
    null,
    2,
  ),
);

const env = { ...process.env, PATCHBAY_LOG_LEVEL: process.env.PATCHBAY_LOG_LEVEL ?? 'warn' };
const server = spawn(process.execPath, [serverBin, '--config', serverConfig, 'serve', '--json'], {
  cwd: work,
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const stopServer = () => server.exitCode === null && server.kill('SIGTERM');
process.on('SIGINT', () => {
  stopServer();
  process.exit(130);
});

const base = await new Promise((resolve, reject) => {
  server.once('exit', (code) => reject(new Error(`patchbay-server exited with ${code}`)));
  createInterface({ input: server.stdout }).on('line', (line) => {
    try {
      const { url } = JSON.parse(line);
      if (url) resolve(url.replace(/\/$/, ''));
    } catch {
      // not the URL line
    }
  });
});

try {
  await waitForSync(base);
  // Report tokens are required on every listener (docs/security.md): enrol the demo host, as
  // an operator would, with the server's own CLI while it serves.
  const enrolled = spawnSync(
    process.execPath,
    [serverBin, '--config', serverConfig, 'enroll', 'demo-host-01', '--json'],
    { cwd: work, env, encoding: 'utf8' },
  );
  if (enrolled.status !== 0) throw new Error(`patchbay-server enroll demo-host-01: ${enrolled.stderr}`);
  const { token } = JSON.parse(enrolled.stdout);
  const clientConfig = path.join(work, 'client.json');
  fs.writeFileSync(
    clientConfig,
    JSON.stringify(
      {
        server: base,
        hostId: 'demo-host-01',
        token,
        dataDir: './client',
        products: [{ id: 'arcserve-backup', release: '19.0', installDir: './sandbox/arcserve' }],
        policy: { autoInstall: 'none' },
        trust: { root: trustedRoot },
      },
      null,
      2,
    ),
  );
  const client = (...args) => {
    console.log(`\n$ patchbay-client ${args.join(' ')}`);
    const result = spawnSync(process.execPath, [clientBin, '--config', clientConfig, ...args], {
      cwd: work,
      env,
      stdio: 'inherit',
    });
    return result.status;
  };

  console.log(`patchbay demo in ${work}`);
  console.log(`staging server: ${base}/v1/status`);
  console.log(
    `trust v2: the server mirrors ${path.relative(root, repository)}/ (DEMO publisher keys); the host trusts only ${path.relative(root, trustedRoot)}`,
  );
  client('check');
  client('install', '--critical');
  client('status');

  console.log('\n# what the staging server now knows');
  const clients = await getJson(`${base}/v1/clients`);
  for (const c of clients) {
    console.log(
      `host ${c.hostId}: ${c.installed} installed, ${c.missing} missing, ${c.failed} failed (last seen ${c.lastSeenAt})`,
    );
  }
  const compliance = await getJson(`${base}/v1/reports/compliance`);
  for (const row of compliance.filter((r) => r.severity === 'critical')) {
    console.log(`  ${row.patchId.padEnd(10)} critical  installed ${row.installed}  missing ${row.missing}`);
  }
  console.log(`\nSandbox install: ${sandbox} (markers in patches/).`);
  console.log(`Everything the demo wrote is under ${work}; nothing is left running.`);
} finally {
  stopServer();
}

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function waitForSync(url) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const status = await getJson(`${url}/v1/status`).catch(() => undefined);
    if (status?.lastSync?.finishedAt && status.mirror?.sequence > 0) return status;
    if (status?.lastSync?.outcome === 'failed') throw new Error(`sync failed: ${status.lastSync.error}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the first sync did not finish within 60 s');
}
