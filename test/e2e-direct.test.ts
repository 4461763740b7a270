// End to end, direct mode: no staging server at all. The reference upstream serves the
// sample feed (signed with the committed demo vendor key); a client takes it as its
// `server`, through a forwarding proxy, verifies feed.json.sig against trust.feedKey,
// installs the critical patches, keeps its history local and mails its install events
// to a real SMTP receiver. A tampered feed.json is refused and changes nothing.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startForwardProxy } from '../packages/core/test/fixtures/fault-server.js';
import { BIN, REPO_ROOT, run, runJson, waitFor } from './helpers/processes.js';
import { startSmtpSink } from './helpers/smtp.js';
import { generateFeed, startUpstream } from './helpers/stack.js';

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

t.test('a client installs straight from the vendor feed, with no staging server', async (t) => {
  const dir = t.testdir();
  const feedDir = path.join(dir, 'feed');
  await generateFeed(feedDir);
  const upstream = await startUpstream(feedDir);
  t.teardown(() => upstream.stop());
  const proxy = await startForwardProxy();
  t.teardown(() => proxy.close());
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());

  const clientDir = path.join(dir, 'client');
  const installDir = path.join(clientDir, 'sandbox', 'arcserve');
  fs.mkdirSync(installDir, { recursive: true });
  const config = path.join(clientDir, 'client.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      server: `${upstream.url}/feed.json`,
      hostId: 'direct-01',
      dataDir: './data',
      products: [{ id: 'arcserve-backup', release: '19.0', installDir: './sandbox/arcserve' }],
      policy: { autoInstall: 'none' },
      proxy: proxy.url,
      // direct mode is trust v1 (being removed): said explicitly
      trust: { feedKey: DEMO_PUBLIC_KEY, legacyMirrorKey: true },
      notify: {
        smtp: { host: '127.0.0.1', port: smtp.port, timeoutSeconds: 10 },
        from: 'patchbay@direct-01.test',
        to: ['ops@example.test'],
        events: ['installed', 'failed'],
      },
      retries: 0,
      timeoutSeconds: 10,
    }),
  );
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
  t.notMatch(check.stderr, /without a signature check/, 'no unsigned warning');

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

  t.test('every request went to the vendor, through the proxy', async (t) => {
    const paths = proxy.forwarded.map((u) => new URL(u).pathname);
    t.ok(paths.includes('/feed.json'));
    t.ok(paths.includes('/feed.json.sig'), 'the signature was fetched');
    t.ok(
      paths.some((p) => p.startsWith('/files/')),
      'the patch files came from the feed directory',
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

  t.test('a tampered feed.json is refused and changes nothing', async (t) => {
    const feedJson = path.join(feedDir, 'feed.json');
    const bytes = fs.readFileSync(feedJson, 'utf8');
    fs.writeFileSync(feedJson, bytes.replace('"vendor": "Arcserve"', '"vendor": "Arcservf"'));
    t.not(fs.readFileSync(feedJson, 'utf8'), bytes, 'tampered');
    const refused = await client(['install', '--all']);
    t.equal(refused.code, 1);
    const error = (refused.json as { error?: { code: string; message: string } }).error;
    t.equal(error?.code, 'PB_ERR_SIGNATURE');
    t.match(error?.message, /does not verify against trust\.feedKey/);
    const status = await run(BIN.client, ['--config', config, 'status', '--json'], { timeoutMs: 180_000 });
    const after = (JSON.parse(status.stdout) as { patches: CheckPatch[] }).patches;
    t.equal(after.filter((p) => p.state === 'installed').length, critical.length, 'nothing else installed');
  });
});
