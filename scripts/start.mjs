// `npm start`: the staging server on the bundled default config (config/staging-server.json,
// which mirrors the bundled sample TUF repository, packages/sample-feed/repository, verified from
// its root and re-signed with the DEMO online key: trust v2). Waits for the first sync, prints
// the status URL and a short summary, then keeps serving in the foreground until Ctrl-C.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'packages/staging-server/bin/patchbay-server.js');
const args = [
  '--config',
  path.join(root, 'config/staging-server.json'),
  ...process.argv.slice(2),
  'serve',
  '--json',
];

// The bundled client config (config/client.json) installs into this sandbox product directory;
// a client refuses to install into a missing installDir (a typo), so the bundled default makes it.
fs.mkdirSync(path.join(root, 'data/sandbox/arcserve'), { recursive: true });

const child = spawn(process.execPath, [bin, ...args], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { PATCHBAY_LOG_LEVEL: 'warn', ...process.env },
});
// Stopping this script stops the server: SIGINT/SIGTERM are passed on, SIGHUP (a closed
// terminal, `kill -HUP`) becomes SIGTERM, the server's graceful stop. npm runs this script
// under `sh -c`, which dies on npm's SIGTERM without passing it on: when we are orphaned
// (our parent pid changes), that is a stop too.
const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => forward(signal));
process.on('SIGHUP', () => forward('SIGTERM'));
const parent = process.ppid;
const orphanWatch = setInterval(() => {
  if (process.ppid !== parent) forward('SIGTERM');
}, 500);
orphanWatch.unref();
// Our exit status is the server's: its code, or 128 + the signal's number when a signal ended it.
child.on('exit', (code, signal) =>
  process.exit(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)),
);

const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  let url;
  try {
    url = JSON.parse(line).url;
  } catch {
    process.stdout.write(line + '\n');
    return;
  }
  if (url) void summarise(url.replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://[::1]'));
});

async function summarise(base) {
  const started = Date.now();
  let status;
  while (Date.now() - started < 60_000) {
    status = await fetch(`${base}/v1/status`).then(
      (r) => r.json(),
      () => undefined,
    );
    if (status?.lastSync?.finishedAt) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const sync = status?.lastSync;
  const mirror = status?.mirror;
  const mb = ((mirror?.bytes ?? 0) / 1e6).toFixed(2);
  const trust = status?.trust;
  console.log(`patchbay staging server is up: ${base}`);
  console.log(`  status:   ${base}/v1/status`);
  if (trust?.mode === 'tuf') console.log(`  TUF:      ${base}/v1/tuf/metadata/timestamp.json`);
  else console.log(`  catalog:  ${base}/v1/catalog`);
  console.log(`  upstream: ${status?.upstream?.url ?? '?'}`);
  if (sync) {
    console.log(
      `  last sync: ${sync.outcome}${sync.error ? ` (${sync.error})` : ''}, upstream sequence ${sync.upstreamSequence ?? '-'}`,
    );
    for (const held of sync.heldBack ?? []) console.log(`  held back: ${held.patchId}: ${held.error}`);
  } else {
    console.log('  the first sync has not finished yet; see /v1/status');
  }
  console.log(
    `  mirror:   catalog sequence ${mirror?.sequence ?? 0}, ${mirror?.patches ?? 0} patches, ${mirror?.blobs ?? 0} blobs, ${mb} MB`,
  );
  if (trust?.mode === 'tuf') {
    console.log(
      `  trust:    TUF (v2): the publisher's root version ${trust.rootVersion ?? '-'} and targets version ${trust.targetsVersion ?? '-'}; ` +
        `snapshot and timestamp signed by the online key ${String(trust.onlineKeyId ?? '?').slice(0, 16)}… (timestamp valid until ${trust.timestampExpires ?? '-'})`,
    );
    console.log(
      '  hosts:    npx patchbay-client --config config/client.json check   (trust.root: the same 1.root.json)',
    );
  }
  console.log(`Serving until Ctrl-C (first status after ${((Date.now() - started) / 1000).toFixed(1)} s).`);
}
