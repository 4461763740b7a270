// Mail notifications end to end: the real report route and ReportStore, the real
// notifier and nodemailer, a real SMTP server on loopback, mails parsed by mailparser.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { ReportEvent } from '@patchbay/core';
import { composeMail, escapeHtml } from '../src/notify/compose.js';
import { createNotifier, disabledNotifier, NOTIFY_STATE_FILE } from '../src/notify/notifier.js';
import type { Notice } from '../src/notify/types.js';
import { putReport, report, silentLogger } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';
import { notifyConfig, startNotifyHarness } from './fixtures/notify-harness.js';
import { startSmtp } from './fixtures/notify-smtp.js';

const CATALOG = [
  patch('T5KB0042', { title: 'Tape drive timeout during merge jobs', severity: 'critical' }),
  patch('T5KB0043', { title: 'Catalog <DB> & "quotes"', severity: 'recommended', release: '18.0' }),
];

function event(
  seq: number,
  type: ReportEvent['type'],
  patchId: string,
  outcome: string,
  message = '',
): ReportEvent {
  return {
    seq,
    type,
    patchId,
    at: `2026-11-24T09:${String(10 + seq).padStart(2, '0')}:00Z`,
    outcome,
    message,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test(
  'patch-available: a sync that publishes new patches mails them, a sync without news does not',
  async (t) => {
    const smtp = await startSmtp(t);
    const h = await startNotifyHarness(t, notifyConfig(smtp));
    h.mirror.publish([CATALOG[0]!], 1);

    const sync = h.observed.startSync();
    h.mirror.publish(CATALOG, 2);
    h.mirror.finishSync('ok');
    await sync;
    const [mail] = await smtp.waitForMails(1);
    const { parsed, envelope } = mail!;
    t.equal(parsed.subject, '[patchbay] 1 new patch available: T5KB0043');
    t.same(envelope.to, ['admin1@corp.test', 'admin2@corp.test']);
    t.equal(envelope.from, 'patchbay@staging.test');
    t.match(parsed.text, /T5KB0043 Catalog <DB> & "quotes" \(recommended, release 18\.0\)/);
    t.match(parsed.text, /catalog sequence 2/);
    t.notMatch(parsed.text, /T5KB0042/, 'the patch the previous catalog had is not news');
    t.match(parsed.html, /Catalog &lt;DB&gt; &amp; &quot;quotes&quot;/, 'feed text is HTML-escaped');
    t.notMatch(parsed.html, /<DB>/);

    // Same catalog again (not modified): no mail.
    const again = h.observed.startSync();
    h.mirror.finishSync('ok');
    await again;
    await h.notifier.flush();
    t.equal(smtp.mails.length, 1);
    t.equal(h.notifier.status().sent, 1);
  },
);

t.test('each client event type mails once with host, patch, title and outcome', async (t) => {
  const smtp = await startSmtp(t);
  const h = await startNotifyHarness(t, notifyConfig(smtp));
  h.mirror.publish(CATALOG, 1);
  const events = [
    event(1, 'download', 'T5KB0042', 'ok'),
    event(2, 'install', 'T5KB0042', 'ok'),
    event(3, 'install', 'T5KB0043', 'failed', 'exit code 3: <disk full>'),
    event(4, 'uninstall', 'T5KB0042', 'ok'),
    event(5, 'check', 'T5KB0042', 'ok'), // not a mail event
    event(6, 'install', 'T5KB0043', 'skipped'), // neither ok nor failed: no mail
    event(7, 'install', 'T5KB0043', 'postponed', 'exit code 1618 asks to try again later'), // nor this
  ];
  const res = await putReport(h.base, 'prod-db-01', report('prod-db-01', { events }));
  t.equal(res.status, 200);
  t.same(await res.json(), { accepted: 7 });
  const mails = await smtp.waitForMails(4);
  await h.notifier.flush();
  t.equal(smtp.mails.length, 4, 'one mail per event, none for check/skipped/postponed');
  const bySubject = new Map(mails.map((m) => [m.parsed.subject, m.parsed]));
  t.same([...bySubject.keys()].sort(), [
    '[patchbay] T5KB0042 downloaded on prod-db-01',
    '[patchbay] T5KB0042 installed on prod-db-01',
    '[patchbay] T5KB0042 uninstalled on prod-db-01',
    '[patchbay] install of T5KB0043 failed on prod-db-01',
  ]);
  const installed = bySubject.get('[patchbay] T5KB0042 installed on prod-db-01')!;
  t.match(installed.text, /Host: +prod-db-01 \(prod-db-01\.corp\)/);
  t.match(
    installed.text,
    /Patch: +T5KB0042 Tape drive timeout during merge jobs \(critical, release 19\.0\)/,
  );
  t.match(installed.text, /Outcome: +ok/);
  t.match(installed.html, /<td><b>T5KB0042<\/b><\/td><td>Tape drive timeout during merge jobs<\/td>/);
  const failed = bySubject.get('[patchbay] install of T5KB0043 failed on prod-db-01')!;
  t.match(failed.text, /Outcome: +failed/);
  t.match(failed.text, /Message: +exit code 3: <disk full>/);
  t.match(failed.html, /exit code 3: &lt;disk full&gt;/);
  t.match(failed.html, /Catalog &lt;DB&gt;/);
});

t.test('events not in notify.events send nothing', async (t) => {
  const smtp = await startSmtp(t);
  const h = await startNotifyHarness(t, notifyConfig(smtp, { events: ['installed'] }));
  h.mirror.publish([CATALOG[0]!], 1);
  const sync = h.observed.startSync();
  h.mirror.publish(CATALOG, 2);
  h.mirror.finishSync('ok');
  await sync;
  const events = [
    event(1, 'download', 'T5KB0042', 'ok'),
    event(2, 'install', 'T5KB0043', 'failed'),
    event(3, 'uninstall', 'T5KB0042', 'ok'),
    event(4, 'install', 'T5KB0042', 'ok'),
  ];
  t.equal((await putReport(h.base, 'h1', report('h1', { events }))).status, 200);
  await smtp.waitForMails(1);
  await h.notifier.flush();
  t.equal(smtp.mails.length, 1);
  t.equal(smtp.mails[0]!.parsed.subject, '[patchbay] T5KB0042 installed on h1');
});

t.test('digest sync: one mail per ingested report, listing all its events', async (t) => {
  const smtp = await startSmtp(t);
  const h = await startNotifyHarness(t, notifyConfig(smtp, { digest: 'sync' }));
  h.mirror.publish(CATALOG, 1);
  const events = [
    event(1, 'download', 'T5KB0042', 'ok'),
    event(2, 'install', 'T5KB0042', 'ok'),
    event(3, 'install', 'T5KB0043', 'failed', 'exit 3'),
  ];
  await putReport(h.base, 'h1', report('h1', { events }));
  await putReport(h.base, 'h2', report('h2', { events: [event(1, 'install', 'T5KB0042', 'ok')] }));
  await smtp.waitForMails(2);
  await h.notifier.flush();
  t.equal(smtp.mails.length, 2);
  const first = smtp.mails.find((m) => m.parsed.subject?.includes('h1'))!.parsed;
  t.equal(first.subject, '[patchbay] h1: 1 downloaded, 1 installed, 1 failed');
  t.match(first.text, /Downloaded:\n {2}- h1 \(h1\.corp\): download T5KB0042 Tape drive/);
  t.match(first.text, /Installed:\n {2}- h1 \(h1\.corp\): install T5KB0042/);
  t.match(
    first.text,
    /Failed:\n {2}- h1 \(h1\.corp\): install T5KB0043 Catalog <DB> .* failed at .* \(exit 3\)/,
  );
  t.match(first.html, /<h3>Failed<\/h3>/);
});

/** The digest's timers in the test's hand: armed with their period, fired when the test says. */
function manualDigestTimers(): {
  armed: { ms: number; fire: () => void; cancelled: boolean }[];
  digestTimer: (fire: () => void, ms: number) => () => void;
} {
  const armed: { ms: number; fire: () => void; cancelled: boolean }[] = [];
  return {
    armed,
    digestTimer: (fire, ms) => {
      const timer = { ms, fire, cancelled: false };
      armed.push(timer);
      return () => void (timer.cancelled = true);
    },
  };
}

t.test('digest hourly: everything in the period in one mail; the rest is flushed on close', async (t) => {
  const smtp = await startSmtp(t);
  const timers = manualDigestTimers();
  const h = await startNotifyHarness(t, notifyConfig(smtp, { digest: 'hourly' }), {
    digestTimer: timers.digestTimer,
  });
  h.mirror.publish([CATALOG[0]!], 1);
  const sync = h.observed.startSync();
  h.mirror.publish(CATALOG, 2);
  h.mirror.finishSync('ok');
  await sync;
  await putReport(h.base, 'h1', report('h1', { events: [event(1, 'install', 'T5KB0042', 'ok')] }));
  await putReport(h.base, 'h2', report('h2', { events: [event(1, 'install', 'T5KB0043', 'failed')] }));
  t.match(h.notifier.status(), { pendingDigest: 3, queued: 0 }, 'held for the digest, no mail queued');
  t.same(
    timers.armed.map((a) => a.ms),
    [3_600_000],
    'one timer for the period, an hour',
  );
  t.equal(smtp.mails.length, 0, 'nothing before the period ends');
  timers.armed[0]!.fire();
  t.match(h.notifier.status(), { pendingDigest: 0 }, 'the period ended: the digest is composed');
  const [digest] = await smtp.waitForMails(1);
  t.equal(digest!.parsed.subject, '[patchbay] 1 new patch, 1 installed, 1 failed');
  t.match(digest!.parsed.text, /T5KB0043/);
  t.match(digest!.parsed.text, /h1 \(h1\.corp\): install T5KB0042/);
  t.match(digest!.parsed.text, /h2 \(h2\.corp\): install T5KB0043/);

  // A later event waits for the next period; close() sends it rather than losing it.
  await putReport(h.base, 'h1', report('h1', { events: [event(2, 'uninstall', 'T5KB0042', 'ok')] }));
  t.equal(timers.armed.length, 2, 'the next period has its own timer');
  t.match(h.notifier.status(), { pendingDigest: 1, queued: 0 });
  t.equal(smtp.mails.length, 1);
  await h.notifier.close();
  t.ok(timers.armed[1]!.cancelled, 'close cancelled the period and sent what it held');
  await smtp.waitForMails(2);
  t.equal(smtp.mails[1]!.parsed.subject, '[patchbay] T5KB0042 uninstalled on h1');
});

t.test('a resent report sends no second mail', async (t) => {
  const smtp = await startSmtp(t);
  const h = await startNotifyHarness(t, notifyConfig(smtp));
  h.mirror.publish(CATALOG, 1);
  const body = report('h1', { events: [event(1, 'install', 'T5KB0042', 'ok')] });
  t.same(await (await putReport(h.base, 'h1', body)).json(), { accepted: 1 });
  t.same(await (await putReport(h.base, 'h1', body)).json(), { accepted: 0 });
  // A later report repeating the old event next to a new one mails only the new one.
  const more = report('h1', {
    reportedAt: '2026-11-24T11:00:00Z',
    events: [event(1, 'install', 'T5KB0042', 'ok'), event(2, 'uninstall', 'T5KB0042', 'ok')],
  });
  t.same(await (await putReport(h.base, 'h1', more)).json(), { accepted: 1 });
  await smtp.waitForMails(2);
  await h.notifier.flush();
  t.same(
    smtp.mails.map((m) => m.parsed.subject),
    ['[patchbay] T5KB0042 installed on h1', '[patchbay] T5KB0042 uninstalled on h1'],
  );
});

for (const mode of ['refuse', 'drop'] as const) {
  t.test(
    `SMTP that ${mode}s: report answered at once, retried with backoff, shown in status, then delivered`,
    async (t) => {
      const smtp = await startSmtp(t, { mode });
      const h = await startNotifyHarness(t, notifyConfig(smtp));
      h.mirror.publish(CATALOG, 1);
      const started = Date.now();
      const res = await putReport(
        h.base,
        'h1',
        report('h1', { events: [event(1, 'install', 'T5KB0042', 'ok')] }),
      );
      const elapsed = Date.now() - started;
      t.equal(res.status, 200);
      t.ok(elapsed < 1000, `PUT answered in ${elapsed} ms while SMTP is down`);

      // Wait for a few failed attempts (backoff 100, 200, 400 ms…).
      const deadline = Date.now() + 5000;
      while (smtp.connections < 3 && Date.now() < deadline) await sleep(50);
      t.ok(smtp.connections >= 3, `retried (${smtp.connections} connections)`);
      const status = (await (await fetch(`${h.base}/v1/status`)).json()) as {
        notify: Record<string, unknown>;
      };
      t.match(status.notify, { enabled: true, queued: 1, sent: 0, failed: 0, lastSentAt: null });
      t.match(
        status.notify.lastError,
        mode === 'refuse'
          ? /550 Mailbox unavailable/
          : /Connection closed|ECONNRESET|Unexpected socket close|Greeting never received/i,
      );
      t.equal(smtp.mails.length, 0);

      smtp.mode = 'accept';
      const [mail] = await smtp.waitForMails(1, 5000);
      t.equal(mail!.parsed.subject, '[patchbay] T5KB0042 installed on h1');
      // The SMTP server has the mail; flush waits for the send pass to take the server's answer.
      await h.notifier.flush();
      const after = (await (await fetch(`${h.base}/v1/status`)).json()) as {
        notify: Record<string, unknown>;
      };
      t.match(after.notify, { queued: 0, sent: 1, failed: 0, lastSentAt: String });
      t.equal(smtp.mails.length, 1, 'delivered once');
    },
  );
}

t.test('a mail is given up after notify.retries and counted as failed', async (t) => {
  const smtp = await startSmtp(t, { mode: 'refuse' });
  const h = await startNotifyHarness(t, notifyConfig(smtp, { retries: 2 }), {
    retryBaseMs: 20,
    retryCapMs: 40,
  });
  await putReport(h.base, 'h1', report('h1', { events: [event(1, 'install', 'T5KB0042', 'failed')] }));
  const deadline = Date.now() + 5000;
  while (h.notifier.status().failed === 0 && Date.now() < deadline) await sleep(20);
  t.match(h.notifier.status(), { queued: 0, failed: 1, sent: 0, lastError: /550/ });
  t.equal(smtp.connections, 3, 'the first attempt and 2 retries');
});

t.test('the queue survives a restart (persisted in dataDir)', async (t) => {
  const smtp = await startSmtp(t, { mode: 'refuse' });
  const dataDir = t.testdir();
  const config = notifyConfig(smtp);
  const notices = [event(1, 'install', 'T5KB0042', 'ok')];
  const first = await createNotifier(config, silentLogger, {
    dataDir,
    retryBaseMs: 60_000,
    closeWaitMs: 2000,
  });
  first.onReport({ hostId: 'h1', hostname: 'h1' }, notices, null);
  while (first.status().lastError === null) await sleep(20);
  await first.close();
  const saved = JSON.parse(await readFile(join(dataDir, NOTIFY_STATE_FILE), 'utf8')) as { mails: unknown[] };
  t.equal(saved.mails.length, 1);

  smtp.mode = 'accept';
  const second = await createNotifier(config, silentLogger, { dataDir });
  t.teardown(() => second.close());
  const [mail] = await smtp.waitForMails(1);
  t.equal(mail!.parsed.subject, '[patchbay] T5KB0042 installed on h1');
  t.match(mail!.parsed.text, /T5KB0042 \(not in the current catalog\)/);
  await second.flush();
  const after = JSON.parse(await readFile(join(dataDir, NOTIFY_STATE_FILE), 'utf8')) as { mails: unknown[] };
  t.equal(after.mails.length, 0);
});

t.test('SMTP auth: the right login delivers, a wrong one is an error in status', async (t) => {
  const smtp = await startSmtp(t, { auth: { user: 'mailer', pass: 's3cret' } });
  const good = await createNotifier(
    notifyConfig(smtp, {
      smtp: { host: '127.0.0.1', port: smtp.port, auth: { user: 'mailer', pass: 's3cret' } },
    }),
    silentLogger,
  );
  t.teardown(() => good.close());
  good.onReport({ hostId: 'h1', hostname: 'h1' }, [event(1, 'download', 'T5KB0042', 'ok')], null);
  const [mail] = await smtp.waitForMails(1);
  t.equal(mail!.user, 'mailer');

  const bad = await createNotifier(
    notifyConfig(smtp, {
      smtp: { host: '127.0.0.1', port: smtp.port, auth: { user: 'mailer', pass: 'wrong' } },
    }),
    silentLogger,
    { retryBaseMs: 60_000 },
  );
  t.teardown(() => bad.close());
  bad.onReport({ hostId: 'h1', hostname: 'h1' }, [event(2, 'download', 'T5KB0042', 'ok')], null);
  while (bad.status().lastError === null) await sleep(20);
  t.match(bad.status(), { queued: 1, lastError: /535|Invalid login/ });
});

t.test('without notify config: no-op notifier, status says disabled', async (t) => {
  const notifier = await createNotifier(undefined, silentLogger);
  t.equal(notifier, disabledNotifier);
  const h = await startNotifyHarness(t, undefined);
  const res = await putReport(
    h.base,
    'h1',
    report('h1', { events: [event(1, 'install', 'T5KB0042', 'ok')] }),
  );
  t.equal(res.status, 200);
  const status = (await (await fetch(`${h.base}/v1/status`)).json()) as { notify: unknown };
  t.match(status.notify, { enabled: false, queued: 0, sent: 0, failed: 0, lastError: null });
});

t.test('composeMail: a failure carries the installer output, escaped and cleaned (issue 14)', async (t) => {
  const failure = (hostId: string, seq: number): Notice => ({
    kind: 'failed',
    at: '2026-11-24T10:00:00Z',
    hostId,
    hostname: hostId,
    action: 'install',
    outcome: 'failed',
    patch: { id: 'P1', title: 'T', severity: 'critical', release: '19.0' },
    message: 'install P1: exit code 3 is not a success code (0)',
    // a hostile client: markup, an escape sequence and a bell in its "output"
    output: 'step 1\n</pre><script>x()</script>\n\u001b]0;title\u0007\u001b[31mERROR\u001b[0m locked',
    seq,
  });
  const one = composeMail([failure('h1', 1)], { subjectPrefix: '', serverName: 's' });
  t.match(one.text, /Message: {2}install P1: exit code 3/);
  t.match(
    one.text,
    /Installer output \(last lines\):\n {2}\| step 1\n {2}\| <\/pre><script>x\(\)<\/script>\n {2}\| ERROR locked/,
  );
  const both = one.text + one.html;
  t.notOk(both.includes('\u001b') || both.includes('\u0007'), 'no escape sequence or control character');
  t.notMatch(one.html, /<script>|<\/pre><script/);
  t.match(
    one.html,
    /<pre[^>]*>step 1\n&lt;\/pre&gt;&lt;script&gt;x\(\)&lt;\/script&gt;\nERROR locked<\/pre>/,
  );
  const two = composeMail([failure('h1', 1), failure('h2', 2)], { subjectPrefix: '', serverName: 's' });
  t.match(two.text, /- h2: install P1 [^\n]*\n {4}Installer output \(last lines\):\n {6}\| step 1/);
});

t.test('composeMail: subjects are one line, ids are capped, HTML is escaped', async (t) => {
  const notice: Notice = {
    kind: 'patch-available',
    at: '2026-11-24T10:00:00Z',
    catalogSequence: 3,
    patches: ['A1', 'A2', 'A3', 'A4', 'A5'].map((id) => ({
      id,
      title: `t\r\nBcc: evil@x <script>`,
      severity: 'optional',
      release: '19.0',
    })),
  };
  const mail = composeMail([notice], { subjectPrefix: '[pb]', serverName: 's<1>' });
  t.equal(mail.subject, '[pb] 5 new patches available: A1, A2, A3 and 2 more');
  t.notMatch(mail.html, /<script>/);
  t.match(mail.html, /&lt;script&gt;/);
  t.match(mail.html, /s&lt;1&gt;/);
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  t.throws(() => composeMail([], { subjectPrefix: '', serverName: '' }));
});
