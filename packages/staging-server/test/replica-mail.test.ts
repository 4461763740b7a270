// Mail with replicas (notify/leader-notifier.ts, notify/event-mail.ts): a report stored by any
// replica is mailed by the leader, from the store, exactly once: the route's onReport mails
// nothing, a second pass over the store mails nothing again, and a new leader (taking over
// the outbox and its cursor from the shared data directory) mails only what is new. Real
// report store, real SMTP receiver over loopback, a manual clock for the store's polling.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { ReportEvent } from '@patchbay/core';
import { LeaderNotifier } from '../src/notify/leader-notifier.js';
import { NOTIFY_STATE_FILE } from '../src/notify/notifier.js';
import { ReportStore } from '../src/reports/report-store.js';
import { report, silentLogger } from './fixtures/http-harness.js';
import { notifyConfig } from './fixtures/notify-harness.js';
import { startSmtp } from './fixtures/notify-smtp.js';
import { ManualClock } from './fixtures/tuf-server.js';

function event(seq: number, outcome: 'ok' | 'failed', patchId = `P${seq}`): ReportEvent {
  return { seq, type: 'install', patchId, at: `2026-11-24T10:0${seq}:00.000Z`, outcome };
}

t.test('the leader mails what any replica stored, once; a new leader goes on from its cursor', async (t) => {
  const dir = t.testdir();
  const smtp = await startSmtp(t);
  const store = await ReportStore.open(dir);
  t.teardown(() => store.close());
  const replica = (): LeaderNotifier =>
    new LeaderNotifier(notifyConfig(smtp), silentLogger, {
      notifier: { dataDir: dir, serverName: 'staging.test', retryBaseMs: 100 },
      events: store,
      catalog: () => null,
      intervalMs: 5_000,
      clock: new ManualClock(),
    });

  // history from before the first leader is not news
  await store.ingest(report('old', { events: [event(1, 'ok')] }));
  const a = replica();
  t.teardown(() => a.close());
  await a.duty.start();
  await a.flush();
  t.equal(smtp.mails.length, 0, 'events stored before the first leader are not mailed');

  // a report that reached another replica: stored there, its route's onReport mails nothing
  const stored = await store.ingest(report('h1', { events: [event(1, 'ok')] }));
  a.onReport();
  t.equal(stored.accepted, 1);
  await a.flush();
  const [installed] = await smtp.waitForMails(1);
  t.match(installed!.parsed.subject, /h1/, 'the leader mailed the stored event');
  await a.flush();
  t.equal(smtp.mails.length, 1, 'a second pass over the store mails nothing again');

  // the leader loses the lock: its outbox and cursor stay in the shared data directory
  await a.duty.stop();
  const persisted = JSON.parse(await readFile(join(dir, NOTIFY_STATE_FILE), 'utf8')) as {
    eventCursor: number;
  };
  t.equal(persisted.eventCursor, await store.lastEventId(), 'the cursor is written with the outbox');

  const b = replica();
  t.teardown(() => b.close());
  await b.duty.start();
  await b.flush();
  t.equal(smtp.mails.length, 1, 'the new leader does not mail again what the old one did');
  await store.ingest(report('h2', { events: [event(2, 'failed')] }));
  await b.flush();
  const mails = await smtp.waitForMails(2);
  t.match(mails[1]!.parsed.subject, /h2/, 'and mails what is new');
  t.equal(a.status().queued, 0, 'the follower holds no outbox');
});
