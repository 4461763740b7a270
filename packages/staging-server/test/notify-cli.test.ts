// patchbay-server notify-test, and serve's schedule time zone, as child processes of
// the built program (run `npx tsc -b packages/staging-server` first).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { run, startServe } from './fixtures/server-cli.js';
import cron from 'node-cron';
import { startSmtp, type TestSmtp } from './fixtures/notify-smtp.js';
import { simplePatch, writeFeedDir } from './fixtures/sync-upstream.js';

async function writeConfig(
  dir: string,
  smtp: TestSmtp | null,
  more: Record<string, unknown> = {},
): Promise<string> {
  const file = join(dir, 'server.json');
  // Reports here are about mail and retention, not tokens (required is the default).
  const config: Record<string, unknown> = {
    dataDir: join(dir, 'data'),
    auth: { reportTokens: 'optional' },
    ...more,
  };
  if (smtp) {
    config.notify = {
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, timeoutSeconds: 5 },
      from: 'patchbay@staging.test',
      to: ['admin1@corp.test', 'admin2@corp.test'],
    };
  }
  await writeFile(file, JSON.stringify(config));
  return file;
}

t.test('notify-test: accepted → exit 0, prints the SMTP answer; the mail arrives', async (t) => {
  const smtp = await startSmtp(t);
  const config = await writeConfig(t.testdir(), smtp);
  const human = await run(['--config', config, 'notify-test']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^test mail sent\n/);
  t.match(human.stdout, /response: +250 /);
  t.match(human.stdout, /accepted: +admin1@corp\.test, admin2@corp\.test/);

  const json = await run(['notify-test', '--json', '--config', config]);
  t.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout) as Record<string, unknown>;
  t.match(result, {
    ok: true,
    response: /^250 /,
    accepted: ['admin1@corp.test', 'admin2@corp.test'],
    rejected: [],
    error: null,
    from: 'patchbay@staging.test',
  });
  const mails = await smtp.waitForMails(2);
  t.match(mails[0]!.parsed.subject, /^\[patchbay\] test mail from /);
  t.match(mails[0]!.parsed.text, /This is a test mail from the patchbay staging server/);
  t.ok(mails[0]!.parsed.html, 'has an HTML part');
});

t.test('notify-test: refused → exit 1 with the reason; dropped connection → exit 1', async (t) => {
  const smtp = await startSmtp(t, { mode: 'refuse' });
  const config = await writeConfig(t.testdir(), smtp);
  const refused = await run(['--config', config, 'notify-test']);
  t.equal(refused.code, 1);
  t.match(refused.stdout, /test mail not sent: .*550 Mailbox unavailable/);
  t.match(refused.stderr, /notify-test failed: .*550/);

  const json = await run(['--config', config, '--json', 'notify-test']);
  t.equal(json.code, 1);
  t.match(JSON.parse(json.stdout), { ok: false, response: /^550 /, error: /MAIL FROM/ });

  smtp.mode = 'drop';
  const dropped = await run(['--config', config, 'notify-test']);
  t.equal(dropped.code, 1);
  t.match(dropped.stdout, /test mail not sent/);
  t.equal(smtp.mails.length, 0);
});

t.test('notify-test without notify config → exit 2', async (t) => {
  const config = await writeConfig(t.testdir(), null);
  const r = await run(['--config', config, 'notify-test']);
  t.equal(r.code, 2);
  t.match(r.stderr, /notify is not configured/);
  const extra = await run(['--config', config, 'notify-test', 'now']);
  t.equal(extra.code, 2);
  t.match(extra.stderr, /too many arguments for 'notify-test'/);
});

t.test('serve: nextSyncAt follows schedule.timezone', async (t) => {
  const dir = t.testdir();
  const feed = {
    format: 'patchbay-feed/1',
    vendor: 'Test',
    sequence: 1,
    generatedAt: '2026-11-20T08:00:00Z',
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
    patches: [],
  };
  await writeFile(join(dir, 'feed.json'), JSON.stringify(feed));
  const timezone = 'Pacific/Kiritimati'; // UTC+14: far from any machine's local zone
  const config = await writeConfig(dir, null, {
    upstream: { url: pathToFileURL(dir + '/').href },
    listen: { host: '127.0.0.1', port: 0 },
    schedule: { sync: '0 3 * * *', timezone },
  });
  const { child, url, closed } = await startServe(t, config);
  const status = (await (await fetch(`${url}/v1/status`)).json()) as { nextSyncAt: string; notify: unknown };
  const expected = cron.schedule('0 3 * * *', () => undefined, { timezone });
  t.teardown(() => expected.destroy());
  t.equal(status.nextSyncAt, expected.getNextRun()?.toISOString());
  t.equal(new Date(status.nextSyncAt).getUTCHours(), 13, '03:00 at UTC+14 is 13:00 UTC');
  t.match(status.notify, { enabled: false });
  child.kill('SIGTERM');
  t.equal(await closed, 0, 'SIGTERM stops serve cleanly');
});

t.test('serve: schedule.prune deletes events older than reports.retentionDays', async (t) => {
  const dir = t.testdir();
  await writeFile(
    join(dir, 'feed.json'),
    JSON.stringify({
      format: 'patchbay-feed/1',
      vendor: 'Test',
      sequence: 1,
      generatedAt: '2026-11-20T08:00:00Z',
      products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
      patches: [],
    }),
  );
  const config = await writeConfig(dir, null, {
    upstream: { url: pathToFileURL(dir + '/').href },
    listen: { host: '127.0.0.1', port: 0 },
    schedule: { sync: null, prune: '*/1 * * * * *', timezone: 'UTC' },
    reports: { retentionDays: 30 },
  });
  const { child, url, closed } = await startServe(t, config);
  const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
  const recent = new Date().toISOString();
  const res = await fetch(`${url}/v1/clients/h1/report`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      hostId: 'h1',
      hostname: 'h1',
      daemonVersion: '0.1.0',
      platform: 'linux',
      reportedAt: recent,
      products: [],
      patches: [],
      events: [
        { seq: 1, type: 'check', at: old, outcome: 'ok' },
        { seq: 2, type: 'check', at: recent, outcome: 'ok' },
      ],
    }),
  });
  t.equal(res.status, 200);
  const seqs = async (): Promise<number[]> => {
    const events = (await (await fetch(`${url}/v1/clients/h1`)).json()) as { events: { seq: number }[] };
    return events.events.map((e) => e.seq).sort();
  };
  const deadline = Date.now() + 5000;
  while ((await seqs()).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  t.same(await seqs(), [2], 'the 40-day-old event is pruned, the recent one stays');
  child.kill('SIGTERM');
  t.equal(await closed, 0);
});

t.test('serve end to end: real syncs mail only the new patches, a report mails its events', async (t) => {
  const smtp = await startSmtp(t);
  const dir = t.testdir();
  const feedDir = join(dir, 'feed');
  await writeFeedDir(feedDir, { sequence: 1, patches: [simplePatch('T5KB0042')] });
  const config = await writeConfig(dir, smtp, {
    upstream: { url: pathToFileURL(feedDir + '/').href },
    listen: { host: '127.0.0.1', port: 0 },
    schedule: { sync: null },
  });
  const { child, url, closed } = await startServe(t, config);

  const [first] = await smtp.waitForMails(1);
  t.equal(first!.parsed.subject, '[patchbay] 1 new patch available: T5KB0042');
  t.match(first!.parsed.text, /T5KB0042 Fix for T5KB0042 \(critical, release 19\.0\)/);

  await writeFeedDir(feedDir, {
    sequence: 2,
    patches: [simplePatch('T5KB0042'), simplePatch('T5KB0050', { severity: 'optional' })],
  });
  t.equal((await fetch(`${url}/v1/sync`, { method: 'POST' })).status, 202);
  const [, second] = await smtp.waitForMails(2);
  t.equal(second!.parsed.subject, '[patchbay] 1 new patch available: T5KB0050');
  t.notMatch(second!.parsed.text, /T5KB0042/);

  const body = {
    hostId: 'prod-db-01',
    hostname: 'prod-db-01.corp',
    daemonVersion: '0.1.0',
    platform: 'linux',
    reportedAt: new Date().toISOString(),
    products: [{ id: 'arcserve-backup', release: '19.0' }],
    patches: [{ id: 'T5KB0042', state: 'installed' }],
    events: [{ seq: 1, type: 'install', patchId: 'T5KB0042', at: new Date().toISOString(), outcome: 'ok' }],
  };
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${url}/v1/clients/prod-db-01/report`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    t.equal(res.status, 200);
  }
  const [, , third] = await smtp.waitForMails(3);
  t.equal(third!.parsed.subject, '[patchbay] T5KB0042 installed on prod-db-01');
  const status = (await (await fetch(`${url}/v1/status`)).json()) as { notify: unknown };
  t.match(status.notify, { enabled: true, sent: 3, queued: 0, failed: 0 });
  child.kill('SIGTERM');
  t.equal(await closed, 0);
  t.equal(smtp.mails.length, 3, 'the resent report mailed nothing');
});
