// Defaults are filled in once, into the merged layers (file, then command line): a default
// must never stand in for a key a layer left out, or it would override the layer below.
import { join } from 'node:path';
import t from 'tap';
import {
  CLIENT_CONFIG_DEFAULTS,
  SERVER_CONFIG_DEFAULTS,
  loadClientConfig,
  loadServerConfig,
} from '../src/config.js';
import { emptyDocumentDefaults } from '../src/config/defaults.js';
import { CONFIG_SCHEMAS, configValidator } from '../src/config/validator.js';

t.test('server: a command-line layer keeps what the file set and it did not', async (t) => {
  const dir = t.testdir({
    'server.json': JSON.stringify({
      listen: { port: 9000 },
      auth: { publicStatus: false },
      mirror: {},
      upstream: { concurrency: 8 },
      notify: {
        smtp: { host: '127.0.0.1', port: 2525 },
        from: 'pb@corp',
        to: ['ops@corp'],
        events: ['failed'],
      },
    }),
  });
  const config = loadServerConfig({
    file: join(dir, 'server.json'),
    overrides: {
      listen: { host: '127.0.0.1' },
      upstream: { retries: 1 },
    },
  });
  t.same(config.listen, { host: '127.0.0.1', port: 9000, tls: null, requestTimeoutSeconds: 30 });
  t.equal(config.auth.publicStatus, false, "the file's publicStatus, though the listener is loopback");
  t.same(config.mirror, {}, 'mirror everything: no default product filter');
  t.match(config.upstream, { concurrency: 8, retries: 1, timeoutSeconds: 30 });
  t.same(config.notify?.smtp, {
    host: '127.0.0.1',
    port: 2525,
    secure: false,
    auth: null,
    requireTLS: false,
    timeoutSeconds: 30,
  });
  t.same(config.notify?.events, ['failed']);
  t.equal(config.notify?.digest, 'off');
});

t.test('client: a key with no default stays unset unless a layer sets it', async (t) => {
  const dir = t.testdir({
    'legacy.json': JSON.stringify({ trust: { legacyMirrorKey: true }, schedule: { jitterSeconds: 0 } }),
    'plain.json': JSON.stringify({ trust: { mirrorKey: 'KEY' } }),
  });
  const legacy = loadClientConfig({
    file: join(dir, 'legacy.json'),
    overrides: { trust: { ca: '/etc/ca.pem' }, schedule: { intervalSeconds: 5 } },
  });
  t.same(legacy.trust, { legacyMirrorKey: true, ca: '/etc/ca.pem', mirrorKey: null });
  t.match(legacy.schedule, { jitterSeconds: 0, intervalSeconds: 5, check: '0 */4 * * *' });
  const plain = loadClientConfig({
    file: join(dir, 'plain.json'),
    overrides: { trust: { ca: '/etc/ca.pem' } },
  });
  t.notOk('legacyMirrorKey' in plain.trust, 'trust.legacyMirrorKey only when set explicitly');
  t.notOk('trustOnFirstUse' in plain.trust);
  t.equal(plain.trust.mirrorKey, 'KEY');
});

t.test("the defaults constants are what ajv's useDefaults fills into an empty document", async (t) => {
  for (const name of ['server-config', 'client-config'] as const) {
    const filled = {};
    t.ok(configValidator(name)(filled));
    t.same(emptyDocumentDefaults(CONFIG_SCHEMAS[name] as unknown as Record<string, unknown>), filled, name);
  }
  const { hostId, hostname, ...client } = CLIENT_CONFIG_DEFAULTS;
  t.match({ hostId, hostname }, { hostId: String, hostname: String }, 'set at run time');
  t.same(client.trust, { mirrorKey: null, ca: null });
  t.same(SERVER_CONFIG_DEFAULTS.reports, loadServerConfig({ cwd: t.testdir() }).reports);
});
