// End to end, on trust v2: a client whose staging server goes away keeps working from its kept
// (verified) metadata and says so, keeps its reports on disk, delivers them when the server is
// back (each event stored once), and fails over to the next staging server in its list.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BIN, run, runJson } from './helpers/processes.js';
import { startStack } from './helpers/stack.js';

interface HistoryEvent {
  hostId: string;
  seq: number;
  type: string;
  patchId?: string;
}

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

t.test('offline cache, queued reports and failover', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir, { releases: ['19.0'] });
  t.teardown(stack.stop);
  const client = stack.writeClientConfig('host-offline', '19.0');

  const download = await runJson<{ results?: unknown[] }>(BIN.client, [
    '--config',
    client.config,
    'download',
    'T5KB0209',
  ]);
  t.equal(download.code, 0, download.stderr);

  await stack.server.stop();

  await t.test('check works from the cached catalog and says so', async (t) => {
    const check = await run(BIN.client, ['--config', client.config, 'check']);
    t.equal(check.code, 1, `offline is exit 1: ${check.stderr}`);
    t.match(check.stderr, /cached catalog/i);
    t.match(check.stdout, /^offline: no staging server answered/m);
    const json = await runJson<{ offline?: boolean; patches: { id: string }[] }>(BIN.client, [
      '--config',
      client.config,
      'check',
    ]);
    t.equal(json.json.offline, true);
    t.ok(json.json.patches.some((p) => p.id === 'T5KB0209'));
  });

  await t.test('an install from the cache works while the server is down; its report waits', async (t) => {
    const install = await runJson<{ results: { id: string; outcome: string }[] }>(BIN.client, [
      '--config',
      client.config,
      'install',
      'T5KB0209',
    ]);
    t.equal(install.code, 0, install.stderr);
    t.same(
      install.json.results.map((r) => [r.id, r.outcome]),
      [['T5KB0209', 'ok']],
    );
  });

  await t.test('the queued report is delivered when the server is back, each event once', async (t) => {
    await stack.restartServer();
    const check = await runJson(BIN.client, ['--config', client.config, 'check']);
    t.equal(check.code, 0, check.stderr);
    const history = await stack.getJson<HistoryEvent[]>('/v1/reports/history?host=host-offline&limit=10000');
    const installs = history.filter((e) => e.type === 'install' && e.patchId === 'T5KB0209');
    t.equal(installs.length, 1, 'the offline install reached the server once');
    const seqs = history.map((e) => e.seq);
    t.equal(new Set(seqs).size, seqs.length, 'no event stored twice');
    // the next command resends nothing that was acknowledged
    await runJson(BIN.client, ['--config', client.config, 'check']);
    const again = await stack.getJson<HistoryEvent[]>('/v1/reports/history?host=host-offline&limit=10000');
    t.equal(again.filter((e) => e.type === 'install').length, 1);
  });

  await t.test('fails over to the next staging server in the list', async (t) => {
    const dead = await closedPort();
    const failing = http.createServer((_req, res) => {
      res.statusCode = 503;
      res.end('{}');
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => failing.close(() => r())));
    const failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    const other = stack.writeClientConfig('host-failover', '19.0', {
      server: [`http://127.0.0.1:${dead}`, failingUrl, stack.server.url],
    });
    const check = await runJson<{ offline?: boolean; patches: unknown[] }>(BIN.client, [
      '--config',
      other.config,
      'check',
    ]);
    t.equal(check.code, 0, check.stderr);
    t.notOk(check.json.offline, 'served by the third server, not from a cache');
    t.ok(check.json.patches.length > 0);
    const clients = await stack.getJson<{ hostId: string }[]>('/v1/clients');
    t.ok(
      clients.some((c) => c.hostId === 'host-failover'),
      'the report went to the server that answered',
    );
  });
});
