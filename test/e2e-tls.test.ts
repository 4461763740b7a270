// End to end over TLS, on trust v2: a staging server with listen.tls (a CA and certificate made
// at test time) and a client (trust.root from the stack) that trusts that CA through trust.ca;
// a client that does not trust it is refused.
import t from 'tap';
import { BIN, run, runJson } from './helpers/processes.js';
import { makeCertificates } from './helpers/certs.js';
import { startStack } from './helpers/stack.js';

t.test('a client checks and installs from an https staging server it trusts through trust.ca', async (t) => {
  const dir = t.testdir({ certs: {} });
  const certs = await makeCertificates(`${dir}/certs`);
  const stack = await startStack(dir, {
    releases: ['19.0'],
    ca: certs.ca,
    serverExtra: { listen: { host: '127.0.0.1', port: 0, tls: { cert: certs.cert, key: certs.key } } },
  });
  t.teardown(stack.stop);
  t.match(stack.server.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the server listens on https');

  const trusting = stack.writeClientConfig('host-tls', '19.0', { trust: { ca: certs.ca } });
  const check = await runJson<{ patches: { id: string }[] }>(BIN.client, [
    '--config',
    trusting.config,
    'check',
  ]);
  t.equal(check.code, 0, check.stderr);
  t.ok(check.json.patches.some((p) => p.id === 'T5KB0201'));
  const install = await runJson<{ results: { id: string; outcome: string }[] }>(BIN.client, [
    '--config',
    trusting.config,
    'install',
    'T5KB0201',
  ]);
  t.equal(install.code, 0, install.stderr);
  t.same(
    install.json.results.map((r) => [r.id, r.outcome]),
    [['T5KB0201', 'ok']],
  );
  const clients = await stack.getJson<{ hostId: string; installed: number }[]>('/v1/clients');
  t.equal(clients.find((c) => c.hostId === 'host-tls')?.installed, 1, 'the report arrived over TLS');

  const untrusting = stack.writeClientConfig('host-no-ca', '19.0');
  const refused = await run(BIN.client, ['--config', untrusting.config, 'check']);
  t.equal(refused.code, 1, 'a client without the CA is refused');
  t.match(refused.stderr, /certificate|self.signed|unable to verify|TLS/i);
});
