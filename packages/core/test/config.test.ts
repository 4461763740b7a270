import t from 'tap';
import type { Test } from 'tap';
import { join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import {
  CLIENT_CONFIG_DEFAULTS,
  SERVER_CONFIG_DEFAULTS,
  SAMPLE_FEED_URL,
  loadClientConfig,
  loadServerConfig,
  normaliseFeedUrl,
} from '../src/config.js';
import type { ClientConfig, ServerConfig } from '../src/config.js';
import { ErrorCodes, PatchbayError } from '../src/errors.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function configError(t: Test, fn: () => unknown, pattern: RegExp, context?: Record<string, unknown>): void {
  try {
    fn();
    t.fail('expected PB_ERR_CONFIG');
  } catch (err) {
    t.ok(err instanceof PatchbayError);
    t.equal((err as PatchbayError).code, ErrorCodes.CONFIG);
    t.match((err as Error).message, pattern);
    if (context) t.match((err as PatchbayError).context, context);
  }
}

t.test('server defaults: contract values, paths against cwd, bundled sample feed', async (t) => {
  const cwd = t.testdir({});
  const config = loadServerConfig({ cwd });
  t.same(config.listen, { host: '0.0.0.0', port: 8080, tls: null, requestTimeoutSeconds: 30 });
  t.same(config.signing, { keyFile: null, expiryDays: 7, resignBeforeHours: 24 });
  t.equal(config.dataDir, join(cwd, 'data/staging-server'));
  t.equal(config.upstream.url, SAMPLE_FEED_URL);
  t.match(config.upstream.url, /^file:\/\/.*\/packages\/sample-feed\/feed\/$/);
  t.same(config.upstream, {
    url: SAMPLE_FEED_URL,
    publicKey: null,
    allowedOrigins: [],
    proxy: null,
    concurrency: 4,
    retries: 4,
    timeoutSeconds: 30,
    maxFeedBytes: 64 * 1024 * 1024,
  });
  t.same(config.mirror, { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] });
  t.same(config.schedule, { sync: '0 * * * *', prune: '30 3 * * *', gc: '45 3 * * *', timezone: null });
  t.same(config.storage, { gcProtectionDays: 7, freeSpaceMarginBytes: 64 * 1024 * 1024 });
  t.same(config.reports, {
    maxBodyBytes: 1048576,
    staleAfterHours: 24,
    historyLimit: 1000,
    retentionDays: 365,
    rateLimitPerMinute: 60,
    maxClockSkewSeconds: 300,
    maxEventsPerReport: 1000,
    hostEventsPerDay: 10000,
    maxEventsPerRollup: 10000,
    rollupsPerMinute: 30,
  });
  t.same(config.log, { level: 'info' });
  t.equal(config.notify, undefined);
  t.same(config.auth, {
    adminToken: null,
    adminTokenFile: null,
    publicStatus: false,
    reportTokens: 'required',
  });
  t.equal(loadServerConfig({ cwd, overrides: { listen: { host: '127.0.0.1' } } }).auth?.publicStatus, true);
  for (const host of ['127.0.0.1', '::1', 'localhost'])
    t.equal(
      loadServerConfig({ cwd, overrides: { listen: { host } } }).auth?.reportTokens,
      'required',
      `report tokens are required on ${host} too: behind a reverse proxy every request is loopback`,
    );
  t.ok(Object.isFrozen(SERVER_CONFIG_DEFAULTS.listen), 'defaults cannot be changed by accident');
});

t.test('client defaults', async (t) => {
  const cwd = t.testdir({});
  const config = loadClientConfig({ cwd });
  t.same(config.server, ['http://127.0.0.1:8080']);
  t.equal(config.hostname, hostname());
  t.match(config.hostId, /^[A-Za-z0-9][A-Za-z0-9._-]*$/);
  t.equal(config.dataDir, join(cwd, 'data/client'));
  t.same(config.products, [{ id: 'arcserve-backup', release: '19.0', installDir: '/opt/arcserve' }]);
  t.same(config.schedule, {
    check: '0 */4 * * *',
    download: null,
    install: '0 2 * * 6',
    timezone: null,
    jitterSeconds: 300,
    intervalSeconds: null,
  });
  t.same(config.policy, {
    autoInstall: 'critical',
    maintenanceWindows: [],
    preInstallCheck: null,
    reboot: 'never',
    rebootCommand: process.platform === 'win32' ? ['shutdown', '/r', '/t', '60'] : ['shutdown', '-r', '+1'],
  });
  t.same(config.trust, { mirrorKey: null, ca: null });
  t.equal(config.proxy, null);
  t.equal(config.retries, 4);
  t.equal(config.timeoutSeconds, 30);
  t.equal(CLIENT_CONFIG_DEFAULTS.dataDir, 'data/client');
});

t.test(
  'relative paths: against the file directory for file values, cwd for defaults and overrides',
  async (t) => {
    const dir = t.testdir({
      etc: {
        'server.json': JSON.stringify({
          dataDir: '../var/mirror',
          upstream: { url: 'feeds/vendor' },
          listen: { tls: { cert: 'tls/c.pem', key: '/abs/k.pem' } },
        }),
        'client.json': JSON.stringify({
          server: 'http://127.0.0.1:9',
          products: [{ id: 'p', release: '1', installDir: 'sandbox/p' }],
          tokenFile: 'token',
          trust: { ca: 'ca.pem' },
        }),
      },
      work: {},
    });
    const cwd = join(dir, 'work');
    const server = loadServerConfig({ file: join(dir, 'etc/server.json'), cwd });
    t.equal(server.dataDir, join(dir, 'var/mirror'));
    t.equal(server.upstream.url, pathToFileURL(join(dir, 'etc/feeds/vendor')).href + '/');
    t.same(server.listen.tls, { cert: join(dir, 'etc/tls/c.pem'), key: '/abs/k.pem' });
    const overridden = loadServerConfig({
      file: join(dir, 'etc/server.json'),
      cwd,
      overrides: { dataDir: 'here', upstream: { url: 'there/' } },
    });
    t.equal(overridden.dataDir, join(cwd, 'here'));
    t.equal(overridden.upstream.url, pathToFileURL(join(cwd, 'there')).href + '/');
    t.equal(overridden.upstream.concurrency, 4, 'overrides merge deep');

    // A relative --config FILE is itself found from cwd.
    const client = loadClientConfig({ file: '../etc/client.json', cwd });
    t.same(client.server, ['http://127.0.0.1:9'], 'one URL becomes a list');
    t.same(client.products, [{ id: 'p', release: '1', installDir: join(dir, 'etc/sandbox/p') }]);
    t.equal(client.tokenFile, join(dir, 'etc/token'));
    t.equal(client.trust.ca, join(dir, 'etc/ca.pem'));
    t.equal(client.trust.mirrorKey, null, 'nested defaults survive a partial object');
    t.equal(client.dataDir, join(cwd, 'data/client'), 'defaults resolve against cwd');
    const list = loadClientConfig({
      cwd,
      overrides: { server: ['http://127.0.0.1:1', 'https://127.0.0.1:2'] },
    });
    t.same(list.server, ['http://127.0.0.1:1', 'https://127.0.0.1:2']);
  },
);

t.test('upstream urls: absolute URLs kept, a directory always ends in /', async (t) => {
  t.equal(normaliseFeedUrl('https://vendor.example/feed/', '/x'), 'https://vendor.example/feed/');
  t.equal(normaliseFeedUrl('https://vendor.example/feed', '/x'), 'https://vendor.example/feed/');
  t.equal(normaliseFeedUrl('http://127.0.0.1:8081/feed.json', '/x'), 'http://127.0.0.1:8081/');
  t.equal(normaliseFeedUrl('file:///media/usb/feed', '/x'), 'file:///media/usb/feed/');
  t.equal(normaliseFeedUrl('/media/usb/feed', '/x'), 'file:///media/usb/feed/');
  t.equal(normaliseFeedUrl('feed', '/x/y'), 'file:///x/y/feed/');
});

t.test('mirror: {} means mirror everything', async (t) => {
  const dir = t.testdir({
    'all.json': JSON.stringify({ mirror: {} }),
    'some.json': JSON.stringify({ mirror: { products: [{ id: 'udp' }] } }),
  });
  t.same(loadServerConfig({ file: join(dir, 'all.json') }).mirror, {});
  t.same(loadServerConfig({ file: join(dir, 'some.json') }).mirror, { products: [{ id: 'udp' }] });
});

t.test('unknown keys are named with their path', async (t) => {
  const dir = t.testdir({
    'client.json': JSON.stringify({ polcy: { autoInstall: 'none' } }),
    'nested.json': JSON.stringify({
      products: [{ id: 'p', release: '1', installDir: '/x', instalDir: '/y' }],
    }),
    'server.json': JSON.stringify({ upstream: { url: 'x', conccurency: 2 } }),
  });
  const file = join(dir, 'client.json');
  configError(t, () => loadClientConfig({ file }), /client\.json: unknown key "polcy" at \/polcy$/, {
    file,
    key: 'polcy',
  });
  configError(
    t,
    () => loadClientConfig({ file: join(dir, 'nested.json') }),
    /unknown key "instalDir" at \/products\/0\/instalDir/,
    { key: 'products[0].instalDir' },
  );
  configError(
    t,
    () => loadServerConfig({ file: join(dir, 'server.json') }),
    /unknown key "conccurency" at \/upstream\/conccurency/,
    { key: 'upstream.conccurency' },
  );
  configError(
    t,
    () => loadServerConfig({ overrides: { bogus: 1 } as unknown as Partial<ServerConfig> }),
    /^command line: unknown key "bogus"/,
    { file: null },
  );
});

t.test('mistyped values name key, expected type and value', async (t) => {
  const dir = t.testdir({
    'port.json': JSON.stringify({ listen: { port: '80a' } }),
    'range.json': JSON.stringify({ listen: { port: 70000 } }),
    'policy.json': JSON.stringify({ policy: { autoInstall: 'all' } }),
    'server.json': JSON.stringify({ server: 42 }),
    'url.json': JSON.stringify({ server: ['ftp://x'] }),
    'cron.json': JSON.stringify({ schedule: { sync: 'hourly' } }),
    'products.json': JSON.stringify({ products: [{ id: 'p', release: '1' }] }),
    'array.json': '[]',
  });
  configError(
    t,
    () => loadServerConfig({ file: join(dir, 'port.json') }),
    /port\.json: listen\.port must be integer \(got "80a"\)$/,
    { key: 'listen.port' },
  );
  configError(
    t,
    () => loadServerConfig({ file: join(dir, 'range.json') }),
    /listen\.port must be <= 65535 \(got 70000\)/,
  );
  configError(
    t,
    () => loadClientConfig({ file: join(dir, 'policy.json') }),
    /policy\.autoInstall must be one of "none", "critical" \(got "all"\)/,
  );
  configError(
    t,
    () => loadClientConfig({ file: join(dir, 'server.json') }),
    /server must be string or array \(got 42\)/,
  );
  configError(
    t,
    () => loadClientConfig({ file: join(dir, 'url.json') }),
    /server\[0\] must match pattern "\^\(https\?\|file\):" \(got "ftp:\/\/x"\)/,
  );
  configError(
    t,
    () => loadServerConfig({ file: join(dir, 'cron.json') }),
    /schedule\.sync must match pattern/,
  );
  configError(
    t,
    () => loadClientConfig({ file: join(dir, 'products.json') }),
    /products\[0\] must have required property 'installDir'/,
  );
  configError(
    t,
    () => loadClientConfig({ file: join(dir, 'array.json') }),
    /the config must be a JSON object/,
  );
  configError(
    t,
    () => loadServerConfig({ overrides: { listen: { port: '80a' as unknown as number } } }),
    /^command line: listen\.port must be integer \(got "80a"\)$/,
  );
  t.equal(
    loadServerConfig({ overrides: { listen: { port: undefined } } }).listen.port,
    8080,
    'undefined overrides are ignored',
  );
});

t.test('missing and non-JSON files are PB_ERR_CONFIG naming the file', async (t) => {
  const dir = t.testdir({ 'broken.json': '{ "listen": ' });
  configError(
    t,
    () => loadServerConfig({ file: join(dir, 'absent.json') }),
    /absent\.json: cannot read config file .*absent\.json: no such file/,
  );
  configError(
    t,
    () => loadClientConfig({ file: join(dir, 'broken.json') }),
    /broken\.json: not valid JSON: /,
    { file: join(dir, 'broken.json') },
  );
});

t.test('notify and auth are accepted and type-checked', async (t) => {
  const dir = t.testdir({
    'ok.json': JSON.stringify({
      notify: {
        smtp: { host: '127.0.0.1', auth: { user: 'u', pass: 'p' } },
        from: 'pb@corp',
        to: ['ops@corp'],
      },
      auth: { adminTokenFile: 'admin.token', publicStatus: true },
    }),
    'bad-events.json': JSON.stringify({
      notify: { smtp: { host: 'h' }, from: 'a@b', to: [], events: ['exploded'] },
    }),
    'bad-auth.json': JSON.stringify({ auth: { publicStatus: 'yes' } }),
  });
  const config = loadServerConfig({ file: join(dir, 'ok.json') });
  t.same(config.notify?.smtp, {
    port: 587,
    secure: false,
    auth: { user: 'u', pass: 'p' },
    requireTLS: false,
    timeoutSeconds: 30,
    host: '127.0.0.1',
  });
  t.same(config.notify?.events, ['patch-available', 'downloaded', 'installed', 'failed']);
  t.same(config.auth, {
    adminToken: null,
    adminTokenFile: join(dir, 'admin.token'),
    publicStatus: true,
    reportTokens: 'required',
  });
  configError(
    t,
    () => loadServerConfig({ file: join(dir, 'bad-events.json') }),
    /notify\.events\[0\] must be one of "patch-available"/,
  );
  configError(
    t,
    () => loadServerConfig({ file: join(dir, 'bad-auth.json') }),
    /auth\.publicStatus must be boolean \(got "yes"\)/,
  );
});

t.test('the bundled config files load and stay inside the repository', async (t) => {
  const server = loadServerConfig({ file: join(REPO, 'config/staging-server.json'), cwd: '/' });
  t.equal(server.dataDir, resolve(REPO, 'data/staging-server'));
  // trust v2: the sample TUF repository `npm run build` makes, verified from its first root, and
  // the DEMO online key that root lists for snapshot and timestamp
  const sampleRoot = resolve(REPO, 'packages/sample-feed/repository/metadata/1.root.json');
  t.equal(server.upstream.url, pathToFileURL(resolve(REPO, 'packages/sample-feed/repository')).href + '/');
  t.equal(server.upstream.trustedRoot, sampleRoot);
  t.equal(server.upstream.publicKey, null, 'no v1 feed key');
  t.equal(
    server.signing.onlineKeyFile,
    resolve(REPO, 'packages/sample-feed/demo-keys/staging-server/online.key'),
  );
  t.same(server.mirror.products, [{ id: 'arcserve-backup', releases: ['19.0'] }]);
  t.same(server.listen, { host: '0.0.0.0', port: 8080, tls: null, requestTimeoutSeconds: 30 });
  const client: ClientConfig = loadClientConfig({ file: join(REPO, 'config/client.json'), cwd: '/' });
  t.equal(client.dataDir, resolve(REPO, 'data/client'));
  t.equal(client.products[0]?.installDir, resolve(REPO, 'data/sandbox/arcserve'));
  t.same(client.server, ['http://127.0.0.1:8080']);
  t.equal(client.trust.root, sampleRoot, "the host trusts the sample repository's first root");
  t.equal(client.trust.mirrorKey, null, 'no v1 mirror key');
});

t.test('docs/config.md lists every key of both schemas', async (t) => {
  const doc = readFileSync(join(REPO, 'docs/config.md'), 'utf8');
  const keys = (schema: Record<string, unknown>, prefix = ''): string[] =>
    Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>).flatMap(([k, v]) => {
      if (k === '$schema') return [];
      const name = prefix + k;
      const inner = v.properties
        ? v
        : (v.items as Record<string, unknown> | undefined)?.properties
          ? (v.items as Record<string, unknown>)
          : undefined;
      return [name, ...(inner ? keys(inner, `${name}${v.items ? '[].' : '.'}`) : [])];
    });
  for (const file of ['server-config.schema.json', 'client-config.schema.json']) {
    const path = join(REPO, 'docs', file);
    t.ok(existsSync(path));
    for (const key of keys(JSON.parse(readFileSync(path, 'utf8'))))
      t.ok(doc.includes(`\`${key}\``), `${file}: ${key} documented`);
  }
});

t.test('time zones are checked against the runtime, naming the key', async (t) => {
  const dir = t.testdir({
    'client.json': JSON.stringify({
      policy: {
        maintenanceWindows: [{ day: 'sat', start: '22:00', durationMinutes: 240, timezone: 'Mars/Olympus' }],
      },
    }),
    'server.json': JSON.stringify({ schedule: { timezone: 'Europe/Atlantis' } }),
    'good.json': JSON.stringify({
      schedule: { timezone: 'Europe/Berlin' },
      policy: { maintenanceWindows: [{ day: ['sat', 'sun'], start: '23:30', durationMinutes: 120 }] },
    }),
  });
  t.throws(() => loadClientConfig({ file: `${dir}/client.json` }), {
    code: 'PB_ERR_CONFIG',
    message: /policy\.maintenanceWindows\[0\]\.timezone "Mars\/Olympus" is not a known IANA time zone/,
  });
  t.throws(() => loadServerConfig({ file: `${dir}/server.json` }), {
    code: 'PB_ERR_CONFIG',
    message: /schedule\.timezone "Europe\/Atlantis"/,
  });
  const good = loadClientConfig({ file: `${dir}/good.json` });
  t.equal(good.schedule.timezone, 'Europe/Berlin');
  t.same(good.policy.maintenanceWindows[0]?.day, ['sat', 'sun']);
  t.throws(
    () =>
      loadClientConfig({
        overrides: { policy: { maintenanceWindows: [{ day: 'sat', start: '25:00', durationMinutes: 5 }] } },
      }),
    { code: 'PB_ERR_CONFIG', message: /start/ },
  );
});
