// End to end, direct mode on trust v2: no staging server at all. The publisher's TUF
// repository (`patchbay-publish init` + `import-feed` of the sample feed, as a vendor or the
// organisation publishes it) is served by the reference upstream; a client names it as
// `{ "repository": URL }`, through a forwarding proxy, verifies it against trust.root,
// installs the critical patches, keeps its history local and mails its install events to a
// real SMTP receiver. A second client reads the same repository as a `file:` URL. A tampered
// target file is refused and changes nothing; a config still written for trust v1 is refused
// at start.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { startForwardProxy } from '../packages/core/test/fixtures/fault-server.js';
import { BIN, REPO_ROOT, run, runJson, waitFor } from './helpers/processes.js';
import { startSmtpSink } from './helpers/smtp.js';
import { generateFeed, publishRepository, startUpstream } from './helpers/stack.js';

interface CheckPatch {
  id: string;
  severity: string;
  state: string;
}
interface Result {
  id: string;
  outcome: string;
  message: string;
}

const DEMO_PUBLIC_KEY = fs
  .readFileSync(path.join(REPO_ROOT, 'packages/sample-feed/demo-keys/vendor-demo.pub'), 'utf8')
  .trim();

/** A client config in `clientDir` for the publisher repository `server`, trusting `rootFile`. */
function writeClient(
  clientDir: string,
  server: unknown,
  rootFile: string,
  extra: Record<string, unknown> = {},
): { config: string; installDir: string } {
  const installDir = path.join(clientDir, 'sandbox', 'arcserve');
  fs.mkdirSync(installDir, { recursive: true });
  const config = path.join(clientDir, 'client.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      server,
      hostId: path.basename(clientDir),
      dataDir: './data',
      products: [{ id: 'arcserve-backup', release: '19.0', installDir: './sandbox/arcserve' }],
      policy: { autoInstall: 'none' },
      trust: { root: rootFile },
      retries: 0,
      timeoutSeconds: 10,
      ...extra,
    }),
  );
  return { config, installDir };
}

t.test('a client installs straight from the publisher repository, with no staging server', async (t) => {
  const dir = t.testdir();
  const feedDir = path.join(dir, 'feed');
  await generateFeed(feedDir);
  const repoDir = path.join(dir, 'repo');
  // no staging server: the publisher's own snapshot and timestamp keys sign them
  const rootFile = await publishRepository(repoDir, feedDir, []);
  const upstream = await startUpstream(repoDir);
  t.teardown(() => upstream.stop());
  const proxy = await startForwardProxy();
  t.teardown(() => proxy.close());
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());

  const clientDir = path.join(dir, 'direct-01');
  const { config, installDir } = writeClient(clientDir, [{ repository: `${upstream.url}/` }], rootFile, {
    proxy: proxy.url,
    notify: {
      smtp: { host: '127.0.0.1', port: smtp.port, timeoutSeconds: 10 },
      from: 'patchbay@direct-01.test',
      to: ['ops@example.test'],
      events: ['installed', 'failed'],
    },
  });
  // generous: the CI machines are shared and slow under load
  const client = (args: string[]) =>
    runJson(BIN.client, ['--config', config, ...args], { timeoutMs: 180_000 });

  const check = await client(['check']);
  t.equal(check.code, 0, check.stderr);
  const patches = (check.json as { patches: CheckPatch[] }).patches;
  const critical = patches
    .filter((p) => p.severity === 'critical' && p.state === 'available')
    .map((p) => p.id);
  t.ok(critical.length >= 3, `critical patches offered: ${critical.join(', ')}`);
  t.notMatch(check.stderr, /trust on first use|online staging-server key/, 'no trust warning');

  const install = await client(['install', '--critical']);
  t.equal(install.code, 0, install.stderr);
  const results = (install.json as { results: Result[] }).results;
  t.ok(results.length >= critical.length);
  t.ok(
    results.every((r) => r.outcome === 'ok'),
    JSON.stringify(results),
  );
  for (const id of critical)
    t.ok(fs.existsSync(path.join(installDir, 'patches', `${id}.installed`)), `${id} installed`);

  t.test('every request went to the repository, through the proxy', async (t) => {
    const paths = proxy.forwarded.map((u) => new URL(u).pathname);
    t.ok(paths.includes('/metadata/timestamp.json'));
    t.ok(
      paths.some((p) => /^\/targets\/arcserve-backup\/19\.0\/[^/]+\/[0-9a-f]{64}\./.test(p)),
      'the patch files came from its targets/',
    );
    t.notOk(
      paths.some((p) => p.startsWith('/v1/')),
      'never asked as a staging server',
    );
    t.notOk(
      paths.some((p) => p.startsWith('/v1/clients')),
      'no report was sent anywhere',
    );
  });

  t.test('status and history are local', async (t) => {
    const status = await client(['status']);
    t.equal(status.code, 0);
    const states = (status.json as { patches: CheckPatch[]; mode?: string }).patches;
    for (const id of critical) t.equal(states.find((p) => p.id === id)?.state, 'installed', id);
    t.equal((status.json as { mode?: string }).mode, 'direct');
    const history = await client(['history']);
    const events = (
      history.json as { events: { type: string; patchId?: string; outcome: string; reported: boolean }[] }
    ).events;
    for (const id of critical) {
      t.ok(
        events.some((e) => e.type === 'install' && e.patchId === id && e.outcome === 'ok'),
        `install ${id} in history`,
      );
    }
    const ledger = JSON.parse(fs.readFileSync(path.join(clientDir, 'data', 'ledger.json'), 'utf8')) as {
      events: { seq: number }[];
      lastAckedSeq: number;
    };
    t.equal(ledger.lastAckedSeq, ledger.events.at(-1)?.seq, 'no outbox left waiting');
  });

  t.test('the install events were mailed', async (t) => {
    const mails = await waitFor('an install mail for every critical patch', async () => {
      const text = smtp.mails.map((m) => `${m.subject}\n${m.text}`).join('\n');
      return critical.every((id) => text.includes(`installed  ${id}`)) ? smtp.mails : undefined;
    });
    t.ok(
      mails.every((m) => /^\[patchbay\] direct-01: installed /.test(m.subject ?? '')),
      'subjects name host and event',
    );
    t.ok(mails.every((m) => (m.to && 'text' in m.to ? m.to.text : '').includes('ops@example.test')));
  });

  t.test('the same repository as a file: URL', async (t) => {
    const local = writeClient(path.join(dir, 'direct-02'), pathToFileURL(repoDir).href, rootFile);
    const check = await runJson(BIN.client, ['--config', local.config, 'check'], { timeoutMs: 180_000 });
    t.equal(check.code, 0, check.stderr);
    const id = critical[0]!;
    const install = await runJson(BIN.client, ['--config', local.config, 'install', id], {
      timeoutMs: 180_000,
    });
    t.equal(install.code, 0, install.stderr);
    t.ok(fs.existsSync(path.join(local.installDir, 'patches', `${id}.installed`)), `${id} installed`);
    const status = await runJson(BIN.client, ['--config', local.config, 'status'], { timeoutMs: 180_000 });
    t.equal((status.json as { mode?: string }).mode, 'direct');
  });

  t.test('a tampered target file is refused and changes nothing', async (t) => {
    const available = ((await client(['check'])).json as { patches: CheckPatch[] }).patches
      .filter((p) => p.state === 'available')
      .map((p) => p.id);
    const victim = available[0];
    t.ok(victim, `a patch not installed yet: ${available.join(', ')}`);
    const targetsDir = path.join(repoDir, 'targets', 'arcserve-backup', '19.0', victim!);
    for (const name of fs.readdirSync(targetsDir)) {
      const file = path.join(targetsDir, name);
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 1] ^= 0x01; // same size, other bytes
      fs.writeFileSync(file, bytes);
    }
    const refused = await client(['install', victim!]);
    t.equal(refused.code, 1);
    const result = (refused.json as { results: Result[] }).results.find((r) => r.id === victim);
    t.equal(result?.outcome, 'failed');
    t.match(result?.message, /sha256|SHA-256|digest/i);
    t.notOk(fs.existsSync(path.join(installDir, 'patches', `${victim}.installed`)), 'not installed');
    const status = await run(BIN.client, ['--config', config, 'status', '--json'], { timeoutMs: 180_000 });
    const after = (JSON.parse(status.stdout) as { patches: CheckPatch[] }).patches;
    t.not(after.find((p) => p.id === victim)?.state, 'installed', 'status does not call it installed');
  });
});

t.test('a client config still written for trust v1 is refused at start, saying what to do', async (t) => {
  const dir = t.testdir();
  const feedDir = path.join(dir, 'feed');
  await generateFeed(feedDir);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'a feed directory',
      { server: pathToFileURL(feedDir).href, trust: { feedKey: DEMO_PUBLIC_KEY } },
      /trust\.feedKey: .*patchbay-publish import-feed/,
    ],
    [
      'a feed directory, no key',
      { server: pathToFileURL(feedDir).href },
      /server\[0\]: .*patchbay-feed\/1.*patchbay-publish import-feed/,
    ],
    [
      'the mirror key',
      { server: 'http://127.0.0.1:9', trust: { legacyMirrorKey: true } },
      /trust\.legacyMirrorKey: .*trust\.root/,
    ],
  ];
  for (const [what, config, message] of cases) {
    const clientDir = path.join(dir, what.replace(/\W+/g, '-'));
    const { config: file } = writeClient(clientDir, config.server, path.join(dir, 'root.json'), {
      trust: { root: path.join(dir, 'root.json'), ...(config.trust as object | undefined) },
    });
    const res = await run(BIN.client, ['--config', file, 'check']);
    t.equal(res.code, 2, `${what}: exit 2, a config error`);
    t.match(res.stderr, message, what);
    t.match(res.stderr, /removed with trust v1/, what);
  }
});
