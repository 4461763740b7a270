// Direct mode: a client whose `server` is a vendor feed (file:, or an http URL naming
// feed.json: the kind comes from the URL, never from an answer) checks, verifies against
// trust.feedKey, installs and keeps its reports local; an unsigned feed is refused; mixed
// lists fail over between a staging server and the feed; the client mails its own events.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { generateSigningKeyPair } from '@patchbay/core';
import type { Feed } from '@patchbay/core';
import { feedByShape, feedLocation } from '../src/direct-mode.js';
import { documentFormat, feedToCatalog } from '../src/feed-source.js';
import { composeClientMail, mailKind } from '../src/local-mailer.js';
import { makeSandbox } from './fixtures/client.js';
import { serveDirectory, writeFeed } from './fixtures/direct-feed.js';
import { buildCatalog, closedPortUrl, startStaging } from './fixtures/staging.js';
import { startSmtp } from '../../staging-server/test/fixtures/notify-smtp.js';

interface Result {
  id: string;
  outcome: string;
  message: string;
}
interface ErrorDoc {
  error?: { code: string; message: string };
}
interface HistoryDoc {
  events: { seq: number; type: string; patchId?: string; outcome: string; reported: boolean }[];
  mode?: string;
}

const VENDOR = generateSigningKeyPair();

// v1 (mirror key): removed with the v1 client path. Direct mode (a vendor feed as `server`) exists
// only without trust.root: the hosts with a feed in their server list run trust v1.
const V1 = { trust: { root: null } };

/** Nothing about a server's kind is ever written down: it comes from the config. */
function kindsFileWritten(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'trust', 'server-kinds.json'));
}

t.test('feed URLs, conversion and event kinds', async (t) => {
  t.ok(feedByShape('file:///media/feed'));
  t.ok(feedByShape('https://vendor.example/patches/feed.json'));
  t.notOk(
    feedByShape('https://vendor.example/patches'),
    'an http URL not naming feed.json is a staging server',
  );
  t.same(feedLocation('https://v.example/p/feed.json'), {
    dir: 'https://v.example/p/',
    feedUrl: 'https://v.example/p/feed.json',
    sigUrl: 'https://v.example/p/feed.json.sig',
  });
  t.equal(feedLocation('file:///media/feed').feedUrl, 'file:///media/feed/feed.json');
  t.equal(documentFormat(Buffer.from('{"format":"patchbay-feed/1"}')), 'patchbay-feed/1');
  t.equal(documentFormat(Buffer.from('<html>')), undefined);

  const { catalog } = buildCatalog([{ id: 'A' }]);
  const feed = {
    ...catalog,
    format: 'patchbay-feed/1',
    patches: catalog.patches.map((p) => ({
      ...p,
      files: p.files.map((f) => ({ ...f, url: `files/${f.name}` })),
    })),
  } as unknown as Feed;
  const converted = feedToCatalog(feed, feedLocation('http://127.0.0.1:9/vendor'));
  t.equal(converted.format, 'patchbay-catalog/1');
  t.equal(
    converted.patches[0]?.files[0]?.url,
    'http://127.0.0.1:9/vendor/files/A.sh',
    'relative to the feed dir',
  );
  const local = {
    ...feed,
    patches: [{ ...feed.patches[0]!, files: [{ ...feed.patches[0]!.files[0]!, url: 'file:///etc/passwd' }] }],
  };
  t.throws(() => feedToCatalog(local, feedLocation('http://127.0.0.1:9/vendor')), {
    code: 'PB_ERR_FEED_INVALID',
    message: /uses file:.*over http:/,
  });
  t.doesNotThrow(
    () => feedToCatalog(local, feedLocation('file:///media/feed')),
    'a file: feed may name file: URLs',
  );

  const ev = { seq: 1, at: '2026-11-24T00:00:00Z', patchId: 'A' };
  t.equal(mailKind({ ...ev, type: 'install', outcome: 'ok' }), 'installed');
  t.equal(mailKind({ ...ev, type: 'download', outcome: 'ok' }), 'downloaded');
  t.equal(mailKind({ ...ev, type: 'install', outcome: 'failed' }), 'failed');
  t.equal(mailKind({ ...ev, type: 'check', outcome: 'ok' }), undefined);
  t.equal(mailKind({ ...ev, type: 'install', outcome: 'postponed' }), undefined);
  const mail = composeClientMail(
    { hostId: 'h1', hostname: 'h1.lan' },
    [{ ...ev, type: 'install', outcome: 'ok', kind: 'installed', message: '<b>' }],
    '[pb]',
  );
  t.equal(mail.subject, '[pb] h1: installed A');
  t.match(mail.html, /&lt;b&gt;/, 'event text is escaped in HTML');
});

t.test('a file: feed, signed: installs, history stays local; unsigned it is refused', async (t) => {
  const dir = t.testdir();
  const built = buildCatalog([{ id: 'A' }, { id: 'B', requires: ['A'] }]);
  writeFeed(path.join(dir, 'feed'), built, { key: VENDOR });
  const feedUrl = pathToFileURL(path.join(dir, 'feed')).href;
  const sb = makeSandbox(path.join(dir, 'client'), () => [feedUrl], V1);

  const unsigned = await sb.json<ErrorDoc>(['install', 'B']);
  t.equal(unsigned.code, 1, 'without trust.feedKey the feed is refused');
  t.equal(unsigned.doc.error?.code, 'PB_ERR_SIGNATURE');
  t.match(unsigned.doc.error?.message, /trust\.feedKey is not set/);
  t.notOk(sb.marker('A') || sb.marker('B'), 'nothing of an unsigned feed is installed');

  sb.writeConfig({ trust: { feedKey: VENDOR.publicKey } });
  const check = await sb.json<{ patches: { id: string; state: string }[] }>(['check']);
  t.equal(check.code, 0, check.stderr);
  t.same(
    check.doc.patches.map((p) => p.state),
    ['available', 'available'],
  );

  const install = await sb.json<{ results: Result[] }>(['install', 'B']);
  t.equal(install.code, 0, install.stderr);
  t.same(
    install.doc.results.map((r) => [r.id, r.outcome]),
    [
      ['A', 'ok'],
      ['B', 'ok'],
    ],
  );
  t.ok(sb.marker('A') && sb.marker('B'), 'both installed in dependency order');
  t.same(sb.orderLog(), ['install A', 'install B']);

  const ledger = sb.ledger();
  t.equal(ledger.lastAckedSeq, ledger.events.at(-1)?.seq, 'no outbox waits for a server that does not exist');
  const history = await sb.json<HistoryDoc>(['history']);
  t.equal(history.doc.mode, 'direct');
  t.ok(history.doc.events.some((e) => e.type === 'install' && e.patchId === 'B' && e.outcome === 'ok'));
  t.ok(
    history.doc.events.every((e) => e.reported === false),
    'nothing claims to be reported',
  );
  const status = await sb.json<{ patches: { id: string; state: string }[]; mode?: string }>(['status']);
  t.equal(status.code, 0);
  t.equal(status.doc.mode, 'direct');
  t.same(
    status.doc.patches.map((p) => p.state),
    ['installed', 'installed'],
  );
});

t.test(
  'an HTTP feed with trust.feedKey: verified; tampered, unsigned or rolled back is refused',
  async (t) => {
    const dir = t.testdir();
    const feedDir = path.join(dir, 'feed');
    const built = buildCatalog([{ id: 'A' }], 5);
    const written = writeFeed(feedDir, built, { key: VENDOR });
    const server = await serveDirectory(feedDir);
    t.teardown(() => server.close());
    const sb = makeSandbox(path.join(dir, 'client'), () => [`${server.url}/feed.json`], V1);
    sb.writeConfig({ trust: { feedKey: VENDOR.publicKey } });

    const check = await sb.json(['check']);
    t.equal(check.code, 0, check.stderr);
    t.notOk(server.requests.includes('/v1/catalog'), 'a feed URL is never asked as a staging server');
    t.ok(server.requests.includes('/feed.json') && server.requests.includes('/feed.json.sig'));
    t.notOk(kindsFileWritten(sb.dataDir), 'nothing about the kind is written down');

    const doctor = await sb.run(['doctor']);
    t.match(doctor.stdout, /vendor feed \(direct mode\).*verifies against trust\.feedKey/);

    // one byte of feed.json changed after signing
    const tampered = Buffer.from(written.feedJson.toString().replace('Fixture patch A', 'Fixture patch X'));
    writeFileSync(path.join(feedDir, 'feed.json'), tampered);
    const refused = await sb.json<ErrorDoc>(['install', 'A']);
    t.equal(refused.code, 1);
    t.equal(refused.doc.error?.code, 'PB_ERR_SIGNATURE');
    t.match(refused.doc.error?.message, /does not verify against trust\.feedKey/);
    t.notOk(sb.marker('A'), 'nothing from a refused feed is installed');

    writeFeed(feedDir, built); // valid bytes, no signature
    const { rmSync } = await import('node:fs');
    rmSync(path.join(feedDir, 'feed.json.sig'));
    const unsigned = await sb.json<ErrorDoc>(['check']);
    t.equal(unsigned.doc.error?.code, 'PB_ERR_SIGNATURE');
    t.match(unsigned.doc.error?.message, /no feed\.json\.sig/);

    writeFeed(feedDir, built, { sequence: 4, key: VENDOR }); // properly signed, older
    const rollback = await sb.json<ErrorDoc>(['check']);
    t.equal(rollback.code, 1);
    t.equal(rollback.doc.error?.code, 'PB_ERR_CATALOG_STALE');
    t.match(rollback.doc.error?.message, /sequence 4 is older than 5/);

    writeFeed(feedDir, built, { sequence: 6, key: VENDOR });
    const fresh = await sb.json<{ results: Result[] }>(['install', 'A']);
    t.equal(fresh.code, 0, fresh.stderr);
    t.ok(sb.marker('A'));
  },
);

t.test('a staging server that is down or failing is never taken for a feed', async (t) => {
  const dir = t.testdir();
  const closed = await closedPortUrl();
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  t.teardown(() => staging.close());
  staging.mode = '500';
  // trust v2 (no feed configured): a failing staging server is an error, never a feed
  const sb = makeSandbox(dir, () => [closed, staging.url]);
  const res = await sb.json<ErrorDoc>(['check']);
  t.equal(res.code, 1);
  t.equal(res.doc.error?.code, 'PB_ERR_NO_CATALOG');
  t.notOk(
    staging.requests.some((r) => r.url === '/feed.json'),
    'a 5xx is a failing staging server, not a question for feed.json',
  );
  t.notOk(kindsFileWritten(sb.dataDir), 'nothing decided');

  staging.mode = 'ok';
  t.equal((await sb.run(['check'])).code, 0);
  t.ok(staging.reports.length > 0, 'a staging server still gets reports');
});

t.test('mixed list: staging server first, the vendor feed second', async (t) => {
  const dir = t.testdir();
  const built = buildCatalog([{ id: 'A' }, { id: 'B' }]);
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  const feed = await serveDirectory(path.join(dir, 'feed'));
  t.teardown(() => feed.close());
  writeFeed(path.join(dir, 'feed'), built, { key: VENDOR });
  const sb = makeSandbox(path.join(dir, 'client'), () => [staging.url, `${feed.url}/feed.json`], V1);
  sb.writeConfig({ trust: { feedKey: VENDOR.publicKey } });

  // the catalog comes from the staging server; A's file drops mid-body there: the feed serves it
  t.equal((await sb.run(['check'])).code, 0);
  const hexA = built.catalog.patches[0]!.files[0]!.sha256;
  staging.dropAfter.set(hexA, 10);
  const a = await sb.json<{ results: Result[] }>(['install', 'A']);
  t.equal(a.code, 0, a.stderr);
  t.equal(a.doc.results[0]?.outcome, 'ok');
  t.ok(feed.requests.includes('/files/A.sh'), 'the file came from the feed');
  t.ok(feed.requests.includes('/feed.json.sig'), 'after the feed was verified');
  t.ok(staging.reports.some((r) => r.events.some((e) => e.patchId === 'A' && e.type === 'install')));

  // the staging server fails: catalog and files from the feed; the events wait for the server
  staging.mode = '500';
  const b = await sb.json<{ results: Result[] }>(['install', 'B']);
  t.equal(b.code, 0, b.stderr);
  t.ok(sb.marker('B'));
  t.ok(feed.requests.includes('/files/B.sh'));
  const pending = sb.ledger();
  t.ok(pending.lastAckedSeq < (pending.events.at(-1)?.seq ?? 0), 'kept for the staging server, not dropped');
  const history = await sb.json<HistoryDoc>(['history']);
  t.equal(history.doc.mode, undefined, 'not direct mode: a staging server is configured');

  staging.mode = 'ok';
  t.equal((await sb.run(['check'])).code, 0);
  t.ok(
    staging.reports.some((r) => r.events.some((e) => e.patchId === 'B' && e.type === 'install')),
    'delivered once the staging server is back',
  );
  const after = sb.ledger();
  t.equal(after.lastAckedSeq, after.events.at(-1)?.seq);
});

t.test('notify: the client mails its own events to a real SMTP server', async (t) => {
  const dir = t.testdir();
  const smtp = await startSmtp(t);
  const built = buildCatalog([{ id: 'A' }, { id: 'F', kind: 'fail' }]);
  writeFeed(path.join(dir, 'feed'), built, { key: VENDOR });
  const feedUrl = pathToFileURL(path.join(dir, 'feed')).href;
  const sb = makeSandbox(path.join(dir, 'client'), () => [feedUrl], V1);
  sb.writeConfig({
    trust: { feedKey: VENDOR.publicKey },
    notify: {
      smtp: { host: '127.0.0.1', port: smtp.port, timeoutSeconds: 10 },
      from: 'patchbay@host.test',
      to: ['ops@example.test'],
      events: ['installed', 'failed'],
    },
  });
  t.equal((await sb.run(['check'])).code, 0);
  t.equal(smtp.mails.length, 0, 'a check is not mailed');
  t.equal((await sb.run(['install', 'A'])).code, 0);
  const [first] = await smtp.waitForMails(1);
  t.match(first?.parsed.subject, /^\[patchbay\] test-host: installed A$/);
  t.same(first?.envelope.to, ['ops@example.test']);
  t.notMatch(first?.parsed.text, /downloaded/, 'downloads are not in notify.events');

  smtp.mode = 'refuse';
  t.equal((await sb.run(['install', 'F'])).code, 1);
  smtp.mode = 'accept';
  t.equal((await sb.run(['check'])).code, 0, 'the refused mail goes out with the next flush');
  const mails = await smtp.waitForMails(2);
  t.match(mails[1]?.parsed.subject, /failed F/);
  t.equal(mails.length, 2, 'each event mailed once');
});
