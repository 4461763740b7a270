// `patchbay-server sync` while `serve` runs on the same data directory: the CLI cannot take the
// lock, so it asks the running server (POST /v1/sync at the config's listen address, with the
// config's admin token) and reports that sync. With the server stopped it syncs itself, as
// before. Real processes over loopback.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { BIN, run } from './helpers/processes.js';
import { startStack, type StatusDocument } from './helpers/stack.js';

const ADMIN_TOKEN = 'admin-token-for-the-sync-test-0123456789';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface CliReport {
  outcome: string;
  startedAt: string;
  via?: string;
  joined?: boolean;
}

t.test('sync asks the running server; without one it syncs itself', async (t) => {
  const port = await freePort();
  const stack = await startStack(t.testdir(), {
    serverExtra: { listen: { host: '127.0.0.1', port }, auth: { adminToken: ADMIN_TOKEN } },
  });
  t.teardown(() => stack.stop());
  const before = (await stack.getJson<StatusDocument>('/v1/status')).lastSync;
  t.equal(before?.outcome, 'ok', 'the start sync');

  const cli = (config: string, ...args: string[]) =>
    run(BIN.server, ['--config', config, 'sync', ...args], { cwd: stack.dir });

  const asked = await cli(stack.serverConfig, '--json');
  t.equal(asked.code, 0, `sync through the server: ${asked.stderr}`);
  const report = JSON.parse(asked.stdout) as CliReport;
  t.equal(report.outcome, 'ok');
  t.equal(report.via, `http://127.0.0.1:${port}`, 'the running server did it');
  t.equal(report.joined, false);
  const after = (await stack.getJson<StatusDocument>('/v1/status')).lastSync;
  t.equal(after?.startedAt, report.startedAt, "the server's own last sync is the one reported");
  t.not(after?.startedAt, before?.startedAt, 'a new sync');
  t.notMatch(asked.stderr, /PB_ERR_LOCKED|in use by another/, 'no lock refusal');

  const human = await cli(stack.serverConfig);
  t.equal(human.code, 0);
  t.match(human.stdout, /^sync ok/);
  t.match(human.stderr, /in use by the running server \(pid \d+\): it synced on request/);

  // Another admin token: the server refuses, and the CLI says which setting to look at.
  const wrong = path.join(stack.dir, 'wrong-token.json');
  const config = JSON.parse(fs.readFileSync(stack.serverConfig, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(wrong, JSON.stringify({ ...config, auth: { adminToken: 'x'.repeat(40) } }));
  const refused = await cli(wrong);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /POST \/v1\/sync at http:\/\/127\.0\.0\.1:\d+: HTTP 401/);
  t.match(refused.stderr, /admin token/);

  // No server: the lock is free and the CLI syncs itself, as it always did.
  await stack.server.stop();
  const local = await cli(stack.serverConfig, '--json');
  t.equal(local.code, 0, local.stderr);
  const localReport = JSON.parse(local.stdout) as CliReport;
  t.equal(localReport.outcome, 'ok');
  t.equal(localReport.via, undefined, 'synced locally');
});
