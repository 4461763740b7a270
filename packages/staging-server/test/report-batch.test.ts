// ReportStore.ingestSoon: reports arriving together share one commit, each in a savepoint of
// its own, and every promise settles only after its batch is stored.
import t from 'tap';
import { ReportStore } from '../src/reports/report-store.js';
import { report } from './fixtures/http-harness.js';

const event = { seq: 1, type: 'check' as const, at: '2026-11-24T10:00:00.000Z', outcome: 'ok' };

t.test('reports of one turn are stored together; one that fails fails alone', async (t) => {
  const store = await ReportStore.open(t.testdir());
  t.teardown(() => store.close());
  const good = Array.from({ length: 300 }, (_, i) => report(`host-${i}`, { events: [event] }));
  // The same patch twice breaks the (hostId, patchId) key: this report's savepoint is undone.
  const bad = report('host-bad', {
    events: [event],
    patches: [
      { id: 'P1', state: 'installed' },
      { id: 'P1', state: 'failed' },
    ],
  });
  const settled = await Promise.allSettled([
    ...good.slice(0, 150).map((r) => store.ingestSoon(r)),
    store.ingestSoon(bad),
    ...good.slice(150).map((r) => store.ingestSoon(r)),
  ]);
  const rejected = settled.filter((s) => s.status === 'rejected');
  t.equal(rejected.length, 1, 'only the bad report is refused');
  t.match(String((rejected[0] as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
  t.equal(
    (await store.listClients()).length,
    300,
    'every good report is stored, more than one batch of them',
  );
  t.notOk(
    (await store.listClients()).some((c) => c.hostId === 'host-bad'),
    'nothing of the bad report is stored',
  );
  const again = await store.ingestSoon(good[0]!);
  t.equal(again.accepted, 0, 'a resent report adds no event');
});

t.test('close stores what is still waiting for its commit', async (t) => {
  const dir = t.testdir();
  const store = await ReportStore.open(dir);
  const pending = store.ingestSoon(report('host-late', { events: [event] }));
  await store.close();
  t.same((await pending).accepted, 1);
  const reopened = await ReportStore.open(dir);
  t.teardown(() => reopened.close());
  t.equal((await reopened.listClients())[0]?.hostId, 'host-late');
});

t.test('a report resent while the first copy waits in the same batch is stored once', async (t) => {
  const store = await ReportStore.open(t.testdir());
  t.teardown(() => store.close());
  const first = report('host-twice', { events: [event, { ...event, seq: 2 }] });
  const [a, b] = await Promise.all([store.ingestSoon(first), store.ingestSoon(structuredClone(first))]);
  t.equal(a.accepted + b.accepted, 2, 'two events stored in all, not four');
  t.equal(
    (await store.history({ host: 'host-twice', limit: 10 })).length,
    2,
    'the history holds each event once',
  );
});
