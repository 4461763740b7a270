// Reports from the future and report quotas (issue 14), over real HTTP on loopback with the
// server's clock injected: no sleeps, time moves when the test moves it.
import t from 'tap';
import type { ClientReport } from '@patchbay/core';
import { ROLLUP_FORMAT } from '../src/tiers/rollup-protocol.js';
import { SqliteTokenStore } from '../src/auth/sqlite-token-store.js';
import { putReport, report, startHarness, type Harness } from './fixtures/http-harness.js';

const NOW = Date.parse('2026-11-24T10:00:00Z');

/** A settable clock for the server. */
function clock(start = NOW) {
  let ms = start;
  return { now: () => new Date(ms), advance: (by: number) => (ms += by) };
}

const event = (seq: number, at = '2026-11-24T09:00:00Z') => ({
  seq,
  type: 'install' as const,
  patchId: 'T5KB0042',
  at,
  outcome: 'ok',
  message: '',
});

const seqs = (from: number, count: number) => Array.from({ length: count }, (_, i) => event(from + i));

async function refusal(res: Response): Promise<{ status: number; message: string }> {
  return { status: res.status, message: ((await res.json()) as { message: string }).message };
}

interface Detail {
  patches: { id: string; state: string }[];
  events: unknown[];
}

async function detail(h: Harness, hostId: string): Promise<Detail> {
  return (await (await fetch(`${h.base}/v1/clients/${hostId}`)).json()) as Detail;
}

function rollup(h: Harness, token: string, reports: ClientReport[]): Promise<Response> {
  return fetch(`${h.base}/v1/branches/branch-b/rollup`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      format: ROLLUP_FORMAT,
      branchId: 'branch-b',
      mirror: '0123456789abcdef',
      sentAt: '2026-11-24T10:00:00Z',
      hosts: reports.map((r) => ({ report: r })),
    }),
  });
}

async function enrollBranch(h: Harness): Promise<string> {
  const tokens = SqliteTokenStore.open(h.config.dataDir);
  try {
    return await tokens.enroll('branch-b', new Date(), 'branch');
  } finally {
    await tokens.close();
  }
}

t.test('a reportedAt or event time beyond the skew window is refused, naming the field', async (t) => {
  const c = clock();
  const h = await startHarness(t, { now: c.now, reports: { maxClockSkewSeconds: 300 } });

  const far = await refusal(
    await putReport(h.base, 'h-01', report('h-01', { reportedAt: '9999-12-31T00:00:00Z' })),
  );
  t.equal(far.status, 400);
  t.match(far.message, /^body\/reportedAt 9999-12-31T00:00:00\.000Z is ahead of the server's clock/);
  t.match(far.message, /more than 300 s \(reports\.maxClockSkewSeconds\).*PB_ERR_HTTP_CLOCK_SKEW/);
  t.equal((await fetch(`${h.base}/v1/clients/h-01`)).status, 404, 'nothing stored');

  const at = await refusal(
    await putReport(h.base, 'h-01', report('h-01', { events: [event(1), event(2, '2100-01-01T00:00:00Z')] })),
  );
  t.equal(at.status, 400);
  t.match(at.message, /^body\/events\/1\/at 2100-01-01T00:00:00\.000Z is ahead/);

  const edge = (s: number) => new Date(NOW + s * 1000).toISOString();
  t.equal(
    (await putReport(h.base, 'h-01', report('h-01', { reportedAt: edge(300) }))).status,
    200,
    'at the edge',
  );
  t.equal(
    (await putReport(h.base, 'h-01', report('h-01', { reportedAt: edge(301) }))).status,
    400,
    'past it',
  );
  // With the server's clock later, the same time is fine.
  c.advance(60_000);
  t.equal((await putReport(h.base, 'h-01', report('h-01', { reportedAt: edge(301) }))).status, 200);
});

t.test('a far-future snapshot already stored does not block a newer report', async (t) => {
  const h = await startHarness(t);
  // As a database from before the check holds it: stored directly, dated 9999.
  await h.store.ingest(
    report('h-02', {
      reportedAt: '9999-12-31T00:00:00.000Z',
      patches: [{ id: 'T5KB0042', state: 'installed' }],
    }),
    '2026-11-20T10:00:00.000Z',
  );
  const res = await putReport(
    h.base,
    'h-02',
    report('h-02', {
      reportedAt: new Date().toISOString(),
      patches: [{ id: 'T5KB0042', state: 'available' }],
    }),
  );
  t.equal(res.status, 200);
  t.same(
    (await detail(h, 'h-02')).patches,
    [{ id: 'T5KB0042', state: 'available' }],
    'the real report replaced it',
  );
});

t.test('a rollup host dated in the future is refused by name; the others are stored', async (t) => {
  const c = clock();
  const h = await startHarness(t, { now: c.now });
  const token = await enrollBranch(h);
  const res = await rollup(h, token, [
    report('b-01', { events: [event(1)] }),
    report('b-02', { reportedAt: '9999-01-01T00:00:00Z', events: [event(1)] }),
  ]);
  t.equal(res.status, 200);
  const answer = (await res.json()) as { hosts: number; refused: { hostId: string; reason: string }[] };
  t.equal(answer.hosts, 1);
  t.match(answer.refused, [{ hostId: 'b-02', reason: /body\/hosts\/1\/report\/reportedAt 9999.*ahead/ }]);
  t.equal((await fetch(`${h.base}/v1/clients/b-02`)).status, 404);
});

t.test('events per report: 413 naming the limit and its key', async (t) => {
  const h = await startHarness(t, { reports: { maxEventsPerReport: 3 } });
  const over = await refusal(await putReport(h.base, 'h-05', report('h-05', { events: seqs(1, 4) })));
  t.equal(over.status, 413);
  t.match(over.message, /report of host "h-05" holds 4 events; at most 3.*reports\.maxEventsPerReport/);
  t.match(over.message, /PB_ERR_HTTP_TOO_MANY_EVENTS/);
  t.equal((await putReport(h.base, 'h-05', report('h-05', { events: seqs(1, 3) }))).status, 200);
});

t.test('events per host per day: 429 with Retry-After until the window frees', async (t) => {
  const c = clock();
  const h = await startHarness(t, { now: c.now, reports: { hostEventsPerDay: 5 } });
  const ok = await putReport(h.base, 'h-06', report('h-06', { events: seqs(1, 3) }));
  t.same(await ok.json(), { accepted: 3 });
  // A resend of stored events is not counted: 3 + 2 fits, and leaves the budget at 3 used.
  const resent = await putReport(h.base, 'h-06', report('h-06', { events: seqs(1, 2) }));
  t.same(await resent.json(), { accepted: 0 });

  c.advance(60 * 60 * 1000);
  const over = await putReport(h.base, 'h-06', report('h-06', { events: seqs(4, 3) }));
  t.equal(over.status, 429);
  t.equal(over.headers.get('retry-after'), String(23 * 60 * 60), 'when the 24-hour window frees');
  const { message } = await refusal(over);
  t.match(
    message,
    /host "h-06" has reported its 5 new events.*reports\.hostEventsPerDay.*PB_ERR_HTTP_EVENT_QUOTA/,
  );
  t.equal((await detail(h, 'h-06')).events.length, 3, 'the refused report stored nothing');
  t.equal(
    (await putReport(h.base, 'h-07', report('h-07', { events: seqs(1, 3) }))).status,
    200,
    'other hosts',
  );
  const fits = await putReport(h.base, 'h-06', report('h-06', { events: seqs(4, 2) }));
  t.same(await fits.json(), { accepted: 2 }, 'what fits in the budget (the resend cost nothing)');
  t.equal((await putReport(h.base, 'h-06', report('h-06', { events: seqs(6, 1) }))).status, 429, 'spent');

  c.advance(23 * 60 * 60 * 1000);
  const later = await putReport(h.base, 'h-06', report('h-06', { events: seqs(6, 3) }));
  t.same(await later.json(), { accepted: 3 }, 'the next window takes it');
});

t.test('rollups: events per request 413; rate limited per branch 429', async (t) => {
  const h = await startHarness(t, { reports: { maxEventsPerRollup: 2, rollupsPerMinute: 2 } });
  const token = await enrollBranch(h);
  const big = await refusal(
    await rollup(h, token, [report('r-01', { events: seqs(1, 2) }), report('r-02', { events: seqs(1, 1) })]),
  );
  t.equal(big.status, 413);
  t.match(big.message, /rollup of branch "branch-b" holds 3 events; at most 2.*reports\.maxEventsPerRollup/);
  t.equal((await rollup(h, token, [report('r-01', { events: seqs(1, 2) })])).status, 200);
  const limited = await rollup(h, token, []);
  t.equal(limited.status, 429);
  t.ok(limited.headers.get('retry-after'));
  t.match(
    (await refusal(limited)).message,
    /branch "branch-b" rollups \(reports\.rollupsPerMinute: 2 per minute\)/,
  );
});
