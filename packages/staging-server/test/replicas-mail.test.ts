// Mail with two real `serve` replicas on one data directory and one PostgreSQL database
// (docs/scale.md "Mail"): a host's report sent to the follower is mailed once, by the
// leader; after kill -9 of the leader, the new leader mails what is new and nothing again.
// A real SMTP receiver on loopback; a host enrolled with the real CLI.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { ReportEvent } from '@patchbay/core';
import { startPostgres } from '../../../test/helpers/postgres.js';
import { waitFor } from '../../../test/helpers/processes.js';
import { report } from './fixtures/http-harness.js';
import { notifyConfig } from './fixtures/notify-harness.js';
import { startSmtp } from './fixtures/notify-smtp.js';
import { writeSampleServeConfig } from './fixtures/sample-tuf.js';
import { run, startServe, type Serving } from './fixtures/server-cli.js';

const cluster = await startPostgres(t);

async function leads(serving: Serving): Promise<boolean> {
  const status = (await (await fetch(`${serving.url}/v1/status`)).json()) as { cluster: { leader: boolean } };
  return status.cluster.leader;
}

function install(seq: number, outcome: 'ok' | 'failed'): ReportEvent {
  return { seq, type: 'install', patchId: `T5KB020${seq}`, at: `2026-12-07T10:0${seq}:00.000Z`, outcome };
}

t.test('a report sent to any replica is mailed once, by the leader', { skip: !cluster }, async (t) => {
  const url = await cluster!.createDatabase('replicas_mail');
  const smtp = await startSmtp(t);
  const dir = t.testdir();
  const config = await writeSampleServeConfig(dir, 'server.json', url, {
    notify: notifyConfig(smtp, { events: ['installed', 'failed'] }),
    log: { level: 'warn' },
  });
  const enrolled = await run(['--config', config, 'enroll', 'h1', '--json']);
  t.equal(enrolled.code, 0, enrolled.stderr);
  const { token } = JSON.parse(enrolled.stdout) as { token: string };
  const send = (to: Serving, events: ReportEvent[]) =>
    fetch(`${to.url}/v1/clients/h1/report`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(report('h1', { events })),
    });

  const a = await startServe(t, config);
  const b = await startServe(t, config);
  t.ok(await leads(a), 'the first replica leads');
  t.notOk(await leads(b));

  t.equal((await send(b, [install(1, 'ok')])).status, 200, 'the follower stores the report');
  const [first] = await smtp.waitForMails(1);
  t.match(first!.parsed.subject, /h1/, 'the leader mailed it');
  t.equal((await send(a, [install(1, 'ok'), install(2, 'failed')])).status, 200, 'a resend and a new event');
  await smtp.waitForMails(2);

  // Killed once its outbox says the mails went: one killed between SMTP's answer and that
  // write sends its mail again (at-least-once, docs/notifications.md), which is not this test.
  const outbox = join(dir, 'data', 'notify-outbox.json');
  const host = (await (await fetch(`${a.url}/v1/clients/h1`)).json()) as { events: { id: number }[] };
  const lastId = Math.max(...host.events.map((e) => e.id));
  await waitFor('the leader to record its mails sent', async () => {
    const queued = JSON.parse(await readFile(outbox, 'utf8')) as { mails: unknown[]; eventCursor?: number };
    return queued.mails.length === 0 && queued.eventCursor === lastId;
  });
  a.child.kill('SIGKILL');
  await a.closed;
  await waitFor('the follower to lead', () => leads(b));
  t.equal((await send(b, [install(3, 'ok')])).status, 200);
  await smtp.waitForMails(3);
  b.child.kill('SIGTERM');
  t.equal(await b.closed, 0);
  // every mail there will be is in: each event mailed once, the new leader's only the new one
  t.same(
    smtp.mails.map((m) => m.parsed.subject),
    [
      '[patchbay] T5KB0201 installed on h1',
      '[patchbay] install of T5KB0202 failed on h1',
      '[patchbay] T5KB0203 installed on h1',
    ],
  );
});
