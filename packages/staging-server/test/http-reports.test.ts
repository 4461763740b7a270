import t from 'tap';
import { buildCompliance } from '../src/reports/compliance.js';
import { putReport, report, startHarness } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

const event = (seq: number, more: Record<string, unknown> = {}) => ({
  seq,
  type: 'install',
  patchId: 'T5KB0042',
  at: `2026-11-24T09:${String(seq).padStart(2, '0')}:00Z`,
  outcome: 'ok',
  message: '',
  ...more,
});

t.test('a report is stored; a resend accepts 0 and doubles nothing', async (t) => {
  const h = await startHarness(t);
  const body = report('prod-db-01', {
    patches: [{ id: 'T5KB0042', state: 'installed', since: '2026-11-24T09:58:00Z' }],
    events: [event(1), event(2, { type: 'download' })],
  });
  const first = await putReport(h.base, 'prod-db-01', body);
  t.equal(first.status, 200);
  t.same(await first.json(), { accepted: 2 });

  const again = await putReport(h.base, 'prod-db-01', body);
  t.equal(again.status, 200);
  t.same(await again.json(), { accepted: 0 }, 'a resend stores nothing new');

  const more = await putReport(h.base, 'prod-db-01', { ...body, events: [event(2), event(3)] });
  // seq 2 comes back as an install (it was a download): not stored, and said so (issue 14)
  t.same(await more.json(), { accepted: 1, conflicting: 1 }, 'only the new seq counts');

  const history = (await (await fetch(`${h.base}/v1/reports/history?host=prod-db-01`)).json()) as {
    seq: number;
  }[];
  t.same(
    history.map((e) => e.seq),
    [3, 2, 1],
    'three events, newest first, none doubled',
  );

  const detail = (await (await fetch(`${h.base}/v1/clients/prod-db-01`)).json()) as Record<string, unknown>;
  t.equal(detail.hostId, 'prod-db-01');
  t.same(detail.patches, [{ id: 'T5KB0042', state: 'installed', since: '2026-11-24T09:58:00Z' }]);
  t.equal((detail.events as unknown[]).length, 3);
  t.equal((detail.lastReport as { hostname: string }).hostname, 'prod-db-01.corp');
  t.notOk('events' in (detail.lastReport as object), 'events live in the history, not in lastReport');
});

t.test('invalid reports: 400 naming the field, nothing stored', async (t) => {
  const h = await startHarness(t);
  const cases: [unknown, RegExp][] = [
    [report('h1', { events: [event(1, { seq: 'x' })] }), /^body\/events\/0\/seq must be integer/],
    [report('h1', { events: [event(1, { seq: '1' })] }), /^body\/events\/0\/seq must be integer/],
    [
      report('h1', { events: [event(1), event(2, { type: 'reboot' })] }),
      /^body\/events\/1\/type must be equal to one of/,
    ],
    [
      report('h1', { patches: [{ id: 'P', state: 'weird', since: '2026-11-24T09:58:00Z' }] }),
      /^body\/patches\/0\/state/,
    ],
    [report('h1', { reportedAt: 'yesterday' }), /^body\/reportedAt must match format "date-time"/],
    [{ hostId: 'h1' }, /^body must have required property/],
  ];
  for (const [body, message] of cases) {
    const res = await putReport(h.base, 'h1', body);
    t.equal(res.status, 400);
    const error = (await res.json()) as ErrorBody;
    t.equal(error.error, 'Bad Request');
    t.match(error.message, message);
  }
  const notJson = await putReport(h.base, 'h1', '{"hostId": ');
  t.equal(notJson.status, 400);
  const badParam = await putReport(h.base, 'bad host!', report('bad host!'));
  t.equal(badParam.status, 400);
  t.match(((await badParam.json()) as ErrorBody).message, /^params\/hostId must match pattern/);
  t.same(await (await fetch(`${h.base}/v1/clients`)).json(), [], 'no client stored');
  t.same(await (await fetch(`${h.base}/v1/reports/history`)).json(), [], 'no event stored');
});

t.test('unknown fields are ignored, not fatal, and not coerced away', async (t) => {
  const h = await startHarness(t);
  const res = await putReport(h.base, 'h2', {
    ...report('h2', { events: [event(1, { extra: true })] }),
    future: 1,
  });
  t.equal(res.status, 200);
  t.same(await res.json(), { accepted: 1 });
});

t.test('hostId in the URL must equal the body', async (t) => {
  const h = await startHarness(t);
  const res = await putReport(h.base, 'host-a', report('host-b'));
  t.equal(res.status, 400);
  const { message } = (await res.json()) as ErrorBody;
  t.match(message, /host-a/);
  t.match(message, /host-b/);
  t.same(await (await fetch(`${h.base}/v1/clients`)).json(), []);
});

t.test('oversized bodies: 413, nothing stored', async (t) => {
  const h = await startHarness(t, { reports: { maxBodyBytes: 2048 } });
  const big = report('h3', { events: [event(1, { message: 'x'.repeat(4096) })] });
  const res = await putReport(h.base, 'h3', big);
  t.equal(res.status, 413);
  const error = (await res.json()) as ErrorBody;
  t.equal(error.statusCode, 413);
  t.equal(error.error, 'Payload Too Large');
  t.same(await (await fetch(`${h.base}/v1/clients`)).json(), []);
});

t.test('a report naming a patch twice is refused with 400 naming it; nothing of it is stored', async (t) => {
  const h = await startHarness(t);
  const ok = await putReport(h.base, 'h4', report('h4', { events: [event(1)] }));
  t.same(await ok.json(), { accepted: 1 });
  const broken = report('h4', {
    reportedAt: '2026-11-25T10:00:00Z',
    hostname: 'renamed.corp',
    patches: [
      { id: 'DUP', state: 'installed', since: '2026-11-24T09:58:00Z' },
      { id: 'DUP', state: 'failed', since: '2026-11-24T09:58:00Z' },
    ],
    events: [event(2)],
  });
  const res = await putReport(h.base, 'h4', broken);
  t.equal(res.status, 400);
  t.match(((await res.json()) as { message: string }).message, /body\/patches\/1\/id.*DUP a second time/);
  const detail = (await (await fetch(`${h.base}/v1/clients/h4`)).json()) as {
    hostname: string;
    events: unknown[];
  };
  t.equal(detail.hostname, 'h4.corp', 'snapshot unchanged');
  t.equal(detail.events.length, 1, 'event 2 not stored');
});

t.test('an older report does not roll the snapshot back, but its events count', async (t) => {
  const h = await startHarness(t);
  await putReport(
    h.base,
    'h5',
    report('h5', {
      reportedAt: '2026-11-24T12:00:00Z',
      patches: [{ id: 'P1', state: 'installed', since: '2026-11-24T11:00:00Z' }],
    }),
  );
  const old = await putReport(
    h.base,
    'h5',
    report('h5', {
      reportedAt: '2026-11-24T10:00:00Z',
      patches: [{ id: 'P1', state: 'available', since: '2026-11-24T09:00:00Z' }],
      events: [event(1)],
    }),
  );
  t.same(await old.json(), { accepted: 1 });
  const detail = (await (await fetch(`${h.base}/v1/clients/h5`)).json()) as { patches: { state: string }[] };
  t.equal(detail.patches[0]?.state, 'installed');
});

t.test('clients list and detail', async (t) => {
  const h = await startHarness(t);
  await putReport(
    h.base,
    'b-host',
    report('b-host', {
      patches: [
        { id: 'P1', state: 'installed', since: '2026-11-24T09:58:00Z' },
        { id: 'P2', state: 'failed', since: '2026-11-24T09:58:00Z' },
        { id: 'P3', state: 'available', since: '2026-11-24T09:58:00Z' },
        { id: 'P4', state: 'blocked', since: '2026-11-24T09:58:00Z' },
        { id: 'P5', state: 'superseded', since: '2026-11-24T09:58:00Z' },
      ],
    }),
  );
  await putReport(h.base, 'a-host', report('a-host'));
  const list = (await (await fetch(`${h.base}/v1/clients`)).json()) as Record<string, unknown>[];
  t.same(
    list.map((c) => [c.hostId, c.installed, c.missing, c.failed]),
    [
      ['a-host', 0, 0, 0],
      ['b-host', 1, 2, 1],
    ],
  );
  t.match(list[0], {
    hostname: 'a-host.corp',
    products: [{ id: 'arcserve-backup', release: '19.0' }],
    lastSeenAt: String,
  });
  const unknown = await fetch(`${h.base}/v1/clients/nobody`);
  t.equal(unknown.status, 404);
  t.match(((await unknown.json()) as ErrorBody).message, /nobody/);
});

t.test(
  'compliance ?hosts=false: the per-patch counts without the hosts map, as the full view counts',
  async (t) => {
    const h = await startHarness(t);
    const catalog = [
      patch('P1', { rebootRequired: true }),
      patch('P2', { platforms: ['win32'] }),
      patch('P3', { release: '18.0' }),
    ];
    h.mirror.publish(catalog);
    const states = ['installed', 'failed', 'superseded', 'available'] as const;
    for (let i = 0; i < 12; i++) {
      const platform = i % 3 === 0 ? 'win32' : 'linux';
      // some hosts have not reported P1 yet (unreported counts as missing)
      const patches = [
        ...(i % 4 === 3 ? [] : [{ id: 'P1', state: states[i % 4]! }]),
        ...(platform === 'win32' ? [{ id: 'P2', state: states[(i + 1) % 4]! }] : []),
      ];
      const res = await putReport(
        h.base,
        `h${i}`,
        report(`h${i}`, { platform, patches, pendingReboot: i % 2 === 0 }),
      );
      t.equal(res.status, 200);
    }
    await putReport(h.base, 'old', report('old', { products: [{ id: 'arcserve-backup', release: '18.0' }] }));
    const get = async (query: string) =>
      (await (await fetch(`${h.base}/v1/reports/compliance${query}`)).json()) as Record<string, unknown>[];
    const full = await get('');
    const streamed = await fetch(`${h.base}/v1/reports/compliance`);
    t.equal(streamed.headers.get('content-length'), null, 'the rows with their hosts are streamed');
    t.equal(
      await streamed.text(),
      JSON.stringify(buildCompliance(catalog, await h.store.hostProfiles(), await h.store.allStates())),
      'byte for byte the rows made from every state at once',
    );
    const counts = await get('?hosts=false');
    t.same(
      counts,
      full.map(({ hosts: _hosts, via: _via, ...row }) => row),
      'the full view less its hosts map',
    );
    t.notOk('hosts' in counts[0]!);
    t.match(counts, [
      { patchId: 'P1', installed: 3, failed: 3, superseded: 3, missing: 3, pendingReboot: 3 },
      { patchId: 'P2', installed: 1, failed: 1, superseded: 1, missing: 1 },
      { patchId: 'P3', missing: 1 },
    ]);
    t.same(
      await get('?hosts=false&host=h0'),
      (await get('?host=h0')).map(({ hosts: _h, ...row }) => row),
    );
    const refused = await fetch(`${h.base}/v1/reports/compliance?view=hosts&hosts=false`);
    t.equal(refused.status, 400);
  },
);

t.test('compliance: per patch of the catalog, relevance by product and platform; CSV', async (t) => {
  const h = await startHarness(t);
  const noCatalog = await fetch(`${h.base}/v1/reports/compliance`);
  t.equal(noCatalog.status, 503);
  h.mirror.publish([
    patch('P1'),
    patch('P2', { severity: 'recommended', platforms: ['win32'] }),
    patch('P3', { release: '18.0', title: 'Old, "quoted" release' }),
  ]);
  await putReport(
    h.base,
    'lin1',
    report('lin1', { patches: [{ id: 'P1', state: 'installed', since: '2026-11-24T09:58:00Z' }] }),
  );
  await putReport(
    h.base,
    'lin2',
    report('lin2', { patches: [{ id: 'P1', state: 'failed', since: '2026-11-24T09:58:00Z' }] }),
  );
  await putReport(
    h.base,
    'win1',
    report('win1', {
      platform: 'win32',
      patches: [{ id: 'P2', state: 'available', since: '2026-11-24T09:58:00Z' }],
    }),
  );
  await putReport(h.base, 'old1', report('old1', { products: [{ id: 'arcserve-backup', release: '18.0' }] }));

  const rows = (await (await fetch(`${h.base}/v1/reports/compliance`)).json()) as Record<string, unknown>[];
  t.same(
    rows.map((r) => [r.patchId, r.severity, r.release, r.installed, r.missing, r.failed]),
    [
      ['P1', 'critical', '19.0', 1, 1, 1],
      ['P2', 'recommended', '19.0', 0, 1, 0],
      ['P3', 'critical', '18.0', 0, 1, 0],
    ],
  );
  t.same(rows[0]?.hosts, { lin1: 'installed', lin2: 'failed', win1: 'unreported' });
  t.same(rows[1]?.hosts, { win1: 'available' });
  t.same(rows[2]?.hosts, { old1: 'unreported' });

  const csv = await fetch(`${h.base}/v1/reports/compliance?format=csv`);
  t.equal(csv.status, 200);
  t.match(csv.headers.get('content-type'), /^text\/csv/);
  t.match(csv.headers.get('content-disposition'), /^attachment; filename="compliance-catalog-1\.csv"$/);
  const lines = (await csv.text()).split('\r\n');
  // the original columns first, extensions after them
  t.equal(
    lines[0],
    '"patchId","severity","product","release","installed","missing","failed","superseded","title","pendingReboot","rebootRequired","publishedAt"',
  );
  t.equal(
    lines[1],
    '"P1","critical","arcserve-backup","19.0","1","1","1","0","Patch P1","0","false","2026-11-01T00:00:00Z"',
  );
  t.equal(
    lines[3],
    '"P3","critical","arcserve-backup","18.0","0","1","0","0","Old, ""quoted"" release","0","false","2026-11-01T00:00:00Z"',
  );
});

t.test('history: filters, since validation, paging, CSV', async (t) => {
  const h = await startHarness(t, { reports: { historyLimit: 3 } });
  await putReport(
    h.base,
    'h1',
    report('h1', {
      events: [
        event(1, { type: 'check', patchId: undefined, at: '2026-11-24T08:00:00Z' }),
        event(2, { type: 'download', at: '2026-11-24T09:00:00+01:00' }), // 08:00Z, same instant
        event(3, { at: '2026-11-24T10:00:00Z', message: '=cmd|"calc"!A1, oops\nline two' }),
      ],
    }),
  );
  await putReport(
    h.base,
    'h2',
    report('h2', {
      events: [
        event(1, { at: '2026-11-24T11:00:00Z', patchId: 'T5KB0050', outcome: 'failed', type: 'error' }),
      ],
    }),
  );
  const get = async (q: string) => {
    const res = await fetch(`${h.base}/v1/reports/history${q}`);
    return { res, body: (await res.json()) as { id: number; hostId: string; seq: number; at: string }[] };
  };
  const page1 = await get('');
  t.same(
    page1.body.map((e) => `${e.hostId}#${e.seq}`),
    ['h2#1', 'h1#3', 'h1#2'],
    'newest first, default limit from config',
  );
  t.equal(page1.body[2]?.at, '2026-11-24T08:00:00.000Z', 'times are normalised to UTC');
  t.match(page1.res.headers.get('link'), /rel="next"/);
  const page2 = await get(`?before=${page1.body[2]?.id}`);
  t.same(
    page2.body.map((e) => `${e.hostId}#${e.seq}`),
    ['h1#1'],
  );

  t.same(
    (await get('?host=h1&limit=10')).body.map((e) => e.seq),
    [3, 2, 1],
  );
  t.same(
    (await get('?patch=T5KB0050')).body.map((e) => e.hostId),
    ['h2'],
  );
  t.same(
    (await get('?type=download')).body.map((e) => e.seq),
    [2],
  );
  t.same(
    (await get('?since=2026-11-24T09:30:00Z')).body.map((e) => `${e.hostId}#${e.seq}`),
    ['h2#1', 'h1#3'],
  );
  t.same(
    (await get('?host=h1&type=install&since=2026-11-24T10:00:00Z')).body.map((e) => e.seq),
    [3],
  );

  for (const q of [
    '?since=yesterday',
    '?since=2026-13-45',
    '?limit=0',
    '?limit=10001',
    '?type=reboot',
    '?before=999',
  ]) {
    const { res } = await get(q);
    t.equal(res.status, 400, q);
  }
  const since = await fetch(`${h.base}/v1/reports/history?since=nope`);
  t.match(((await since.json()) as ErrorBody).message, /querystring\/since must be an RFC 3339 date-time/);

  const csv = await fetch(`${h.base}/v1/reports/history?host=h1&format=csv`);
  t.match(csv.headers.get('content-type'), /^text\/csv/);
  t.match(csv.headers.get('content-disposition'), /^attachment; filename="history\.csv"$/);
  const text = await csv.text();
  const lines = text.split('\r\n');
  t.equal(lines[0], '"at","hostId","seq","type","patchId","outcome","message","receivedAt","id"');
  t.match(
    lines[1],
    /^"2026-11-24T10:00:00\.000Z","h1","3","install","T5KB0042","ok","'=cmd\|""calc""!A1, oops\nline two",/,
  );
});

t.test('CSV: every field quoted; formulas from titles, hostnames and messages neutralised', async (t) => {
  const h = await startHarness(t);
  h.mirror.publish([patch('P1', { title: '=HYPERLINK("http://x")' })]);
  await putReport(
    h.base,
    'lin1',
    report('lin1', {
      hostname: '@SUM(1)',
      patches: [{ id: 'P1', state: 'installed', since: '2026-11-24T09:58:00Z' }],
      events: [
        event(1, { patchId: 'P1', message: '=HYPERLINK("http://x")' }),
        event(2, { patchId: 'P1', message: '@SUM(1)' }),
        event(3, { patchId: 'P1', message: '+1-2' }),
        event(4, { patchId: 'P1', message: '\tcmd' }),
        event(5, { patchId: 'P1', message: 'plain text' }),
      ],
    }),
  );
  const csv = async (path: string) => {
    const res = await fetch(`${h.base}${path}`);
    t.equal(res.status, 200, path);
    return (await res.text()).split('\r\n');
  };

  const compliance = await csv('/v1/reports/compliance?format=csv');
  t.equal(
    compliance[1],
    '"P1","critical","arcserve-backup","19.0","1","0","0","0","\'=HYPERLINK(""http://x"")","0","false","2026-11-01T00:00:00Z"',
    'a patch title that is a formula: quoted and prefixed; numbers quoted, unprefixed',
  );

  const hosts = await csv('/v1/reports/compliance?view=hosts&format=csv');
  t.match(hosts[1], /^"lin1","'@SUM\(1\)","linux",/, 'a hostname that is a formula');

  const history = await csv('/v1/reports/history?host=lin1&format=csv');
  const messages = history.slice(1, -1).map((line) => line.split('","')[6]);
  t.same(
    messages,
    ['plain text', "'\tcmd", "'+1-2", "'@SUM(1)", `'=HYPERLINK(""http://x"")`],
    'event messages (newest first): formulas prefixed inside the quotes, plain text only quoted',
  );
  for (const line of history.slice(0, -1)) t.match(line, /^"[^]*"$/, 'every line starts and ends quoted');
});
