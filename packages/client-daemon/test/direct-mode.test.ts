// Direct mode on trust v2: a client whose `server` is a publisher's TUF repository (a `file:`
// URL, or `{ "repository": URL }` over http: the kind comes from the config, never from an
// answer) checks, verifies against trust.root, installs from the repository's targets/ and
// keeps its reports local; a tampered target is refused; mixed lists fail over between a
// staging server and a repository; the client mails its own events. Real CLI processes.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { composeClientMail, mailKind } from '../src/local-mailer.js';
import { PublisherRepository, StagingServer, upstreamsFromConfig } from '../src/upstream.js';
import { makeSandbox } from './fixtures/client.js';
import { serveDirectory, targetFile, writeTargets } from './fixtures/publisher-repository.js';
import { buildCatalog, closedPortUrl, startStaging } from './fixtures/staging.js';
import type { BuiltCatalog, FixturePatch, StagingFixture } from './fixtures/staging.js';
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

/**
 * A publisher's repository on disk: a fixture staging server's metadata (signed for the
 * fixture trust root) with the targets/ patchbay-publish writes. The server is stopped at
 * once unless the test keeps it (mixed lists): the repository is read without it.
 */
async function publisherRepository(
  t: Test,
  patches: FixturePatch[],
  keepServer = false,
): Promise<{ repository: string; built: BuiltCatalog; staging: StagingFixture }> {
  const built = buildCatalog(patches);
  const staging = await startStaging(built);
  if (keepServer) t.teardown(() => staging.close());
  else await staging.close();
  writeTargets(staging.tuf.dir, built);
  return { repository: staging.tuf.dir, built, staging };
}

t.test('the kind of each server entry comes from the config, and files from verified paths', async (t) => {
  const [staging, local, remote] = upstreamsFromConfig([
    'http://127.0.0.1:9/',
    'file:///media/repo/',
    { repository: 'http://127.0.0.1:9/vendor/repo/' },
  ]);
  t.ok(staging instanceof StagingServer, 'an http URL is a staging server');
  t.ok(local instanceof PublisherRepository, 'a file: URL is a repository');
  t.ok(remote instanceof PublisherRepository, '{ repository } is a repository');
  t.equal(staging?.metadataUrl, 'http://127.0.0.1:9/v1/tuf/metadata/');
  t.equal(local?.metadataUrl, 'file:///media/repo/metadata/');
  t.equal(remote?.metadataUrl, 'http://127.0.0.1:9/vendor/repo/metadata/');
  const file = { sha256: 'ab'.repeat(32), url: `p/1.0/A/${'ab'.repeat(32)}.A.sh` };
  t.equal(staging?.fileUrl(file), `http://127.0.0.1:9/v1/blobs/sha256/${file.sha256}`);
  t.equal(remote?.fileUrl(file), `http://127.0.0.1:9/vendor/repo/targets/${file.url}`);
  t.equal(
    remote?.fileUrl({ sha256: file.sha256, url: 'p/1.0/A/x?y#z' }),
    'http://127.0.0.1:9/vendor/repo/targets/p/1.0/A/x%3Fy%23z',
    'no query, no fragment',
  );
  for (const url of ['p/../../../x', '/etc/passwd', 'p/./x', 'p//x', 'p\\..\\..\\x', 'p/x\0']) {
    t.throws(() => remote?.fileUrl({ sha256: file.sha256, url }), { code: 'PB_ERR_FEED_INVALID' }, url);
  }
  t.same(
    [staging, local, remote].map((u) => u?.takesReports),
    [true, false, false],
    'only a staging server takes reports',
  );
});

t.test('client mail: event kinds and text', async (t) => {
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

t.test(
  'a file: repository: installs, history and status stay local, a tampered target is refused',
  async (t) => {
    const dir = t.testdir();
    const { repository, built } = await publisherRepository(t, [
      { id: 'A' },
      { id: 'B', requires: ['A'] },
      { id: 'C' },
    ]);
    const sb = makeSandbox(path.join(dir, 'client'), () => [pathToFileURL(repository).href]);

    const check = await sb.json<{ patches: { id: string; state: string }[] }>(['check']);
    t.equal(check.code, 0, check.stderr);
    t.same(
      check.doc.patches.map((p) => [p.id, p.state]),
      [
        ['A', 'available'],
        ['B', 'available'],
        ['C', 'available'],
      ],
    );

    const install = await sb.json<{ results: Result[] }>(['install', 'B']);
    t.equal(install.code, 0, install.stderr);
    t.same(
      install.doc.results.map((r) => `${r.id} ${r.outcome}`),
      ['A ok', 'B ok'],
    );
    t.same(sb.orderLog(), ['install A', 'install B'], 'both installed in dependency order');

    const ledger = sb.ledger();
    t.equal(
      ledger.lastAckedSeq,
      ledger.events.at(-1)?.seq,
      'no outbox waits for a server that does not exist',
    );
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
      ['installed', 'installed', 'available'],
    );

    // C's target file swapped for other bytes of the same size on the repository's disk: its
    // signed digest refuses it
    const target = targetFile(repository, built, 'C');
    writeFileSync(target, readFileSync(target, 'utf8').replace('install) echo', 'install) ech0'));
    const tampered = await sb.json<{ results: Result[] }>(['install', 'C']);
    t.equal(tampered.code, 1);
    t.equal(tampered.doc.results[0]?.outcome, 'failed');
    t.match(tampered.doc.results[0]?.message, /sha256|SHA-256|digest/i);
    t.notOk(sb.marker('C'), 'nothing of a tampered target runs');
  },
);

t.test('an http repository ({ "repository": URL }): metadata/ and targets/ of that URL only', async (t) => {
  const dir = t.testdir();
  const { repository } = await publisherRepository(t, [{ id: 'A' }]);
  const server = await serveDirectory(repository);
  t.teardown(() => server.close());
  const sb = makeSandbox(path.join(dir, 'client'), () => [{ repository: `${server.url}/` }] as never);

  const check = await sb.json(['check']);
  t.equal(check.code, 0, check.stderr);
  const doctor = await sb.run(['doctor']);
  t.match(
    doctor.stdout,
    new RegExp(`repository ${server.url}: reachable; TUF metadata verifies against trust\\.root`),
  );
  const install = await sb.json<{ results: Result[] }>(['install', 'A']);
  t.equal(install.code, 0, install.stderr);
  t.ok(sb.marker('A'));
  t.ok(server.requests.includes('/metadata/timestamp.json'));
  t.ok(server.requests.some((r) => /^\/targets\/arcserve-backup\/19\.0\/A\/[0-9a-f]{64}\.A\.sh$/.test(r)));
  t.notOk(
    server.requests.some((r) => r.startsWith('/v1/')),
    'a repository is never asked as a staging server',
  );

  // the repository goes away: the kept metadata is used, said as offline, never another kind
  server.mode = '500';
  const offline = await sb.run(['check']);
  t.equal(offline.code, 1, 'exit 1: no server answered');
  t.match(offline.stdout, /^offline: .*from the cached catalog/m, 'the kept metadata, said so');
  t.notOk(server.requests.some((r) => r.startsWith('/v1/')));
});

t.test('a staging server that is down or failing is never taken for a repository', async (t) => {
  const dir = t.testdir();
  const closed = await closedPortUrl();
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  t.teardown(() => staging.close());
  staging.mode = '500';
  const sb = makeSandbox(dir, () => [closed, staging.url]);
  const res = await sb.json<ErrorDoc>(['check']);
  t.equal(res.code, 1);
  t.equal(res.doc.error?.code, 'PB_ERR_NO_CATALOG');
  t.notOk(
    staging.requests.some((r) => r.url.startsWith('/metadata/') || r.url === '/feed.json'),
    'a 5xx is a failing staging server, not a question for another kind',
  );

  staging.mode = 'ok';
  t.equal((await sb.run(['check'])).code, 0);
  t.ok(staging.reports.length > 0, 'a staging server still gets reports');
});

t.test('mixed list: staging server first, the publisher repository second', async (t) => {
  const dir = t.testdir();
  const { repository, built, staging } = await publisherRepository(t, [{ id: 'A' }, { id: 'B' }], true);
  const server = await serveDirectory(repository);
  t.teardown(() => server.close());
  const sb = makeSandbox(path.join(dir, 'client'), () => [staging.url, { repository: server.url }] as never);

  // the catalog comes from the staging server; A's file drops mid-body there: the repository serves it
  t.equal((await sb.run(['check'])).code, 0);
  const hexA = built.catalog.patches[0]!.files[0]!.sha256;
  staging.dropAfter.set(hexA, 10);
  const a = await sb.json<{ results: Result[] }>(['install', 'A']);
  t.equal(a.code, 0, a.stderr);
  t.equal(a.doc.results[0]?.outcome, 'ok');
  t.ok(
    server.requests.some((r) => r.startsWith('/targets/') && r.endsWith('.A.sh')),
    'the file came from the repository',
  );
  t.notOk(server.requests.includes('/metadata/timestamp.json'), 'without loading its metadata mid-download');
  t.ok(staging.reports.some((r) => r.events.some((e) => e.patchId === 'A' && e.type === 'install')));

  // the staging server fails: metadata and files from the repository; the events wait for the server
  staging.mode = '500';
  const b = await sb.json<{ results: Result[] }>(['install', 'B']);
  t.equal(b.code, 0, b.stderr);
  t.ok(sb.marker('B'));
  t.ok(server.requests.includes('/metadata/timestamp.json'));
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
  const { repository } = await publisherRepository(t, [{ id: 'A' }, { id: 'F', kind: 'fail' }]);
  const sb = makeSandbox(path.join(dir, 'client'), () => [pathToFileURL(repository).href]);
  sb.writeConfig({
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
