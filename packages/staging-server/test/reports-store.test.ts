import { join } from 'node:path';
import t from 'tap';
import { REPORTS_FILE, ReportStore } from '../src/reports/report-store.js';
import { openSqliteReportStore, type SqliteReportStore } from '../src/reports/sqlite/sqlite-report-store.js';
import type { HistoryQuery } from '../src/reports/types.js';
import { report } from './fixtures/http-harness.js';

/** The SQLite store itself: the index tests read its query plans. */
async function filledStore(dir: string): Promise<SqliteReportStore> {
  const store = openSqliteReportStore(join(dir, REPORTS_FILE));
  const reports = [];
  for (let h = 0; h < 50; h++) {
    reports.push(
      report(`host-${h}`, {
        events: Array.from({ length: 5 }, (_, i) => ({
          seq: i + 1,
          type: (['check', 'download', 'install', 'uninstall', 'error'] as const)[i] ?? 'check',
          patchId: `P${(h + i) % 7}`,
          at: new Date(Date.UTC(2026, 10, 1) + (h * 5 + i) * 60_000).toISOString(),
          outcome: 'ok',
          message: '',
        })),
      }),
    );
  }
  await store.ingestMany(reports);
  return store;
}

t.test('every history filter is answered from an index, newest first, without a sort', async (t) => {
  const store = await filledStore(t.testdir());
  t.teardown(() => store.close());
  const since = '2026-11-01T02:00:00.000Z';
  const before = { at: '2026-11-01T03:00:00.000Z', id: 180 };
  const cases: [string, HistoryQuery, RegExp][] = [
    ['no filter', { limit: 100 }, /USING INDEX events_by_at/],
    ['host', { host: 'host-3', limit: 100 }, /SEARCH events USING INDEX events_by_host \(hostId=\?\)/],
    ['patch', { patch: 'P2', limit: 100 }, /SEARCH events USING INDEX events_by_patch \(patchId=\?\)/],
    ['type', { type: 'install', limit: 100 }, /SEARCH events USING INDEX events_by_type \(type=\?\)/],
    ['since', { since, limit: 100 }, /SEARCH events USING INDEX events_by_at \(at>\?\)/],
    [
      'host + since',
      { host: 'host-3', since, limit: 100 },
      /USING INDEX events_by_host \(hostId=\? AND at>\?\)/,
    ],
    [
      'patch + since',
      { patch: 'P2', since, limit: 100 },
      /USING INDEX events_by_patch \(patchId=\? AND at>\?\)/,
    ],
    [
      'type + since',
      { type: 'error', since, limit: 100 },
      /USING INDEX events_by_type \(type=\? AND at>\?\)/,
    ],
    [
      'host + type',
      { host: 'host-3', type: 'check', limit: 100 },
      /SEARCH events USING INDEX events_by_(host|type)/,
    ],
    ['cursor', { before, limit: 100 }, /USING INDEX events_by_at/],
    ['host + cursor', { host: 'host-3', before, limit: 100 }, /USING INDEX events_by_host \(hostId=\?/],
  ];
  for (const [name, query, expected] of cases) {
    const plan = store.explainHistory(query).join(' | ');
    t.match(plan, expected, `${name}: ${plan}`);
    t.notMatch(plan, /SCAN events(?! USING)/, `${name}: no table scan`);
    t.notMatch(plan, /TEMP B-TREE/, `${name}: no sort`);
  }
});

t.test('history answers match a brute-force filter of all events', async (t) => {
  const store = await filledStore(t.testdir());
  t.teardown(() => store.close());
  const all = await store.history({ limit: 10_000 });
  t.equal(all.length, 250);
  const sorted = [...all].sort((a, b) => (a.at === b.at ? b.id - a.id : b.at.localeCompare(a.at)));
  t.same(all, sorted, 'newest first');
  const byHost = await store.history({ host: 'host-7', type: 'install', limit: 10 });
  t.same(
    byHost,
    all.filter((e) => e.hostId === 'host-7' && e.type === 'install'),
  );
  // paging with the cursor walks every event exactly once
  const seen: number[] = [];
  let cursor: HistoryQuery['before'];
  for (;;) {
    const page = await store.history({ limit: 37, ...(cursor ? { before: cursor } : {}) });
    seen.push(...page.map((e) => e.id));
    const last = page.at(-1);
    if (page.length < 37 || !last) break;
    cursor = (await store.eventCursor(last.id)) ?? undefined;
  }
  t.same(
    seen,
    all.map((e) => e.id),
  );
});

t.test('ingest is idempotent per (hostId, seq) and survives reopening', async (t) => {
  const dir = t.testdir();
  const store = await ReportStore.open(dir);
  const body = report('h', {
    events: [{ seq: 1, type: 'check', at: '2026-11-24T10:00:00.000Z', outcome: 'ok' }],
    patches: [{ id: 'P1', state: 'installed', since: '2026-11-24T10:00:00Z' }],
  });
  t.same(await store.ingest(body), {
    accepted: 1,
    stored: body.events,
    snapshotReplaced: true,
    conflicts: [],
  });
  t.same(
    await store.ingest(body),
    { accepted: 0, stored: [], snapshotReplaced: true, conflicts: [] },
    'a resend stores nothing',
  );
  await store.close();
  const reopened = await ReportStore.open(dir);
  t.teardown(() => reopened.close());
  t.equal((await reopened.history({ limit: 10 })).length, 1);
  t.same((await reopened.getClient('h'))?.patches, [
    { id: 'P1', state: 'installed', since: '2026-11-24T10:00:00Z' },
  ]);
  t.same(await reopened.countClients('2000-01-01T00:00:00.000Z'), { total: 1, stale: 0 });
});

t.test(
  'events are kept per (hostId, instanceId, seq): a re-imaged host loses nothing (issue 14)',
  async (t) => {
    const store = await ReportStore.open(t.testdir());
    t.teardown(() => store.close());
    const OLD = 'aaaaaaaa-0000-4000-8000-000000000001';
    const NEW = 'bbbbbbbb-0000-4000-8000-000000000002';
    const install = (at: string, message = '') => ({
      seq: 1,
      type: 'install' as const,
      patchId: 'P1',
      at,
      outcome: 'ok',
      message,
    });
    const first = await store.ingest(
      report('h', {
        instanceId: OLD,
        reportedAt: '2026-11-24T10:00:00.000Z',
        events: [install('2026-11-24T10:00:00.000Z')],
      }),
    );
    t.same(
      first.newInstance,
      { instanceId: OLD, previous: [], knownHost: false },
      "the host's first instance",
    );
    t.equal(first.accepted, 1);
    // the same host id from a new data dir: seq 1 again, a different event
    const second = await store.ingest(
      report('h', {
        instanceId: NEW,
        reportedAt: '2026-11-25T10:00:00.000Z',
        events: [install('2026-11-25T10:00:00.000Z')],
      }),
    );
    t.equal(second.accepted, 1, 'seq 1 of the new instance is stored, not taken for a resend');
    t.same(second.newInstance, { instanceId: NEW, previous: [OLD], knownHost: true });
    t.same(
      (await store.history({ host: 'h', limit: 10 })).map((e) => [e.seq, e.instanceId, e.at]),
      [
        [1, NEW, '2026-11-25T10:00:00.000Z'],
        [1, OLD, '2026-11-24T10:00:00.000Z'],
      ],
    );
    const client = await store.getClient('h');
    t.equal(client?.instanceId, NEW);
    t.same(
      client?.instances.map((i) => i.instanceId),
      [NEW, OLD],
      'newest first',
    );
    // a late outbox report of the old instance: stored, but the host's instance stays the new one
    const late = await store.ingest(
      report('h', {
        instanceId: OLD,
        reportedAt: '2026-11-24T11:00:00.000Z',
        events: [{ ...install('2026-11-24T11:00:00.000Z'), seq: 2 }],
      }),
    );
    t.equal(late.accepted, 1);
    t.equal(late.newInstance, undefined);
    t.equal((await store.getClient('h'))?.instanceId, NEW);

    // a rollup names each event's instance, which need not be the report's
    const rolled = await store.ingest(
      report('h', {
        instanceId: NEW,
        reportedAt: '2026-11-25T10:00:00.000Z',
        events: [{ ...install('2026-11-24T12:00:00.000Z'), seq: 3, instanceId: OLD }],
      }),
    );
    t.equal(rolled.accepted, 1);
    t.same(
      (await store.history({ host: 'h', limit: 10 })).filter((e) => e.seq === 3).map((e) => e.instanceId),
      [OLD],
    );
  },
);

t.test('a resend whose content differs from the stored event is reported as a conflict', async (t) => {
  const store = await ReportStore.open(t.testdir());
  t.teardown(() => store.close());
  const event = {
    seq: 7,
    type: 'install' as const,
    patchId: 'P1',
    at: '2026-11-24T10:00:00.000Z',
    outcome: 'ok',
    message: '',
  };
  await store.ingest(report('h', { events: [event] }));
  t.same(
    (await store.ingest(report('h', { events: [event] }))).conflicts,
    [],
    'a true resend is no conflict',
  );
  const other = { ...event, patchId: 'P2', outcome: 'failed', message: 'boom', output: 'last lines' };
  const result = await store.ingest(report('h', { events: [other] }));
  t.equal(result.accepted, 0);
  t.same(result.conflicts, [
    {
      seq: 7,
      instanceId: '',
      stored: { type: 'install', patchId: 'P1', at: event.at, outcome: 'ok', message: '', output: null },
      sent: {
        type: 'install',
        patchId: 'P2',
        at: event.at,
        outcome: 'failed',
        message: 'boom',
        output: 'last lines',
      },
    },
  ]);
  t.same(
    (await store.history({ host: 'h', limit: 10 })).map((e) => e.patchId),
    ['P1'],
    'the stored event is kept as it was',
  );
});

t.test('a daemon upgraded to instance ids resending its outbox doubles nothing', async (t) => {
  const store = await ReportStore.open(t.testdir());
  t.teardown(() => store.close());
  const event = {
    seq: 5,
    type: 'install' as const,
    patchId: 'P1',
    at: '2026-11-24T10:00:00.000Z',
    outcome: 'ok',
    message: '',
  };
  t.equal((await store.ingest(report('h', { events: [event] }))).accepted, 1, 'sent by the old daemon');
  // the acknowledgement was lost; the upgraded daemon resends it under its new instance id
  const again = await store.ingest(
    report('h', { instanceId: 'cccccccc-0000-4000-8000-000000000003', events: [event] }),
  );
  t.equal(again.accepted, 0);
  t.same(again.stored, [], 'so nothing mails twice');
  const next = { ...event, seq: 6, at: '2026-11-24T11:00:00.000Z' };
  t.equal(
    (await store.ingest(report('h', { instanceId: 'cccccccc-0000-4000-8000-000000000003', events: [next] })))
      .accepted,
    1,
  );
  t.equal((await store.history({ host: 'h', limit: 10 })).length, 2);
});
