// The admin reports over real HTTP: Patches Downloaded, Patches Installed — current
// (compliance with pendingReboot) and — history (installs), their filters and CSV,
// and paging of /v1/clients.
import t, { type Test } from 'tap';
import { CLIENTS_STREAM_PAGE } from '../src/http/routes/clients.js';
import { putReport, report, startHarness, type Harness } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';

type Row = Record<string, unknown>;

const SINCE = '2026-11-24T09:00:00Z';

async function getJson(h: Harness, path: string): Promise<Row[]> {
  const res = await fetch(`${h.base}${path}`);
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Row[];
}

async function getCsv(h: Harness, path: string, fileName: string, t: Test): Promise<string[]> {
  const res = await fetch(`${h.base}${path}`);
  t.equal(res.status, 200, path);
  t.match(res.headers.get('content-type'), /^text\/csv; charset=utf-8/);
  t.equal(res.headers.get('content-disposition'), `attachment; filename="${fileName}"`);
  const text = await res.text();
  t.ok(text.endsWith('\r\n'), 'CRLF line ends');
  return text.slice(0, -2).split('\r\n');
}

/** A fleet: a catalog of 3 patches over 2 releases; 3 hosts with mixed states. */
async function fleet(t: Test): Promise<Harness> {
  const h = await startHarness(t);
  h.mirror.publish([
    patch('P1', { rebootRequired: true, publishedAt: '2026-11-01T00:00:00Z' }),
    patch('P2', { severity: 'recommended', title: 'Agent, "quoted"', publishedAt: '2026-11-10T00:00:00Z' }),
    patch('P3', { severity: 'optional', release: '18.0', publishedAt: '2026-11-20T00:00:00Z' }),
  ]);
  const install = (seq: number, patchId: string, at: string, more: Row = {}) => ({
    seq,
    type: 'install',
    patchId,
    at,
    outcome: 'ok',
    message: '',
    ...more,
  });
  await putReport(
    h.base,
    'alpha',
    report('alpha', {
      pendingReboot: true,
      patches: [
        { id: 'P1', state: 'installed', since: '2026-11-24T08:00:00Z', cached: true },
        { id: 'P2', state: 'downloaded', since: '2026-11-24T07:00:00Z', cached: true },
      ],
      events: [
        { seq: 1, type: 'check', at: '2026-11-24T06:00:00Z', outcome: 'ok' },
        install(2, 'P1', '2026-11-24T08:00:00Z'),
        install(3, 'P2', '2026-11-24T08:30:00Z', { outcome: 'failed', message: 'exit 3, "disk full"' }),
      ],
    } as never),
  );
  await putReport(
    h.base,
    'bravo',
    report('bravo', {
      // an older client: no `cached`, no pendingReboot
      patches: [
        { id: 'P1', state: 'installed', since: SINCE },
        { id: 'P2', state: 'downloaded', since: '2026-11-23T10:00:00Z' },
      ],
      events: [
        install(1, 'P1', '2026-11-23T12:00:00Z'),
        { seq: 2, type: 'uninstall', patchId: 'P1', at: '2026-11-23T13:00:00Z', outcome: 'ok', message: '' },
        install(3, 'P1', '2026-11-24T09:00:00Z'),
      ],
    }),
  );
  await putReport(
    h.base,
    'charlie',
    report('charlie', {
      pendingReboot: true,
      products: [
        { id: 'arcserve-backup', release: '19.0' },
        { id: 'arcserve-backup', release: '18.0' },
      ],
      patches: [
        { id: 'P1', state: 'failed', since: SINCE, cached: true },
        { id: 'P2', state: 'available', since: SINCE, cached: false },
        { id: 'P3', state: 'installed', since: SINCE, cached: false },
      ],
      events: [install(1, 'P3', '2026-11-22T10:00:00Z')],
    } as never),
  );
  return h;
}

t.test('Patches Downloaded: cached rows and downloaded states, filters, CSV', async (t) => {
  const h = await fleet(t);
  const rows = await getJson(h, '/v1/reports/downloaded');
  t.same(
    rows.map((r) => [r.patchId, r.hostId, r.state, r.cached]),
    [
      ['P1', 'alpha', 'installed', true],
      ['P1', 'charlie', 'failed', true],
      ['P2', 'alpha', 'downloaded', true],
      ['P2', 'bravo', 'downloaded', null],
    ],
    "cached: true rows, plus 'downloaded' rows of clients that do not say; cached: false excluded",
  );
  t.same(rows[0], {
    patchId: 'P1',
    title: 'Patch P1',
    severity: 'critical',
    release: '19.0',
    hostId: 'alpha',
    hostname: 'alpha.corp',
    state: 'installed',
    cached: true,
    since: '2026-11-24T08:00:00Z',
  });
  const pick = async (q: string) =>
    (await getJson(h, `/v1/reports/downloaded?${q}`)).map((r) => `${r.patchId}@${r.hostId}`);
  t.same(await pick('host=bravo'), ['P2@bravo']);
  t.same(await pick('patch=P1'), ['P1@alpha', 'P1@charlie']);
  t.same(await pick('severity=recommended'), ['P2@alpha', 'P2@bravo']);
  t.same(await pick('release=18.0'), []);
  t.same(await pick('since=2026-11-24T08:00:00Z'), ['P1@alpha', 'P1@charlie'], 'since is inclusive');
  t.same(await pick('until=2026-11-24T08:00:00Z'), ['P2@alpha', 'P2@bravo'], 'until is exclusive');
  t.same(await pick('since=2026-11-24T07:30:00%2B01:00&until=2026-11-24T09:00:00Z'), [
    'P1@alpha',
    'P2@alpha',
  ]);

  const lines = await getCsv(
    h,
    '/v1/reports/downloaded?severity=recommended&format=csv',
    'downloaded.csv',
    t,
  );
  t.same(lines, [
    '"patchId","title","severity","release","hostId","hostname","state","cached","since"',
    '"P2","Agent, ""quoted""","recommended","19.0","alpha","alpha.corp","downloaded","true","2026-11-24T07:00:00Z"',
    '"P2","Agent, ""quoted""","recommended","19.0","bravo","bravo.corp","downloaded","","2026-11-23T10:00:00Z"',
  ]);
});

t.test('Patches Installed — current: counts, pendingReboot, filters, CSV', async (t) => {
  const h = await fleet(t);
  const rows = await getJson(h, '/v1/reports/compliance');
  t.same(
    rows.map((r) => [r.patchId, r.installed, r.missing, r.failed, r.pendingReboot]),
    [
      ['P1', 2, 0, 1, 1], // alpha pending reboot + installed + rebootRequired; charlie failed
      ['P2', 0, 3, 0, 0],
      ['P3', 1, 0, 0, 0], // installed on charlie, which is pending reboot, but P3 needs none
    ],
  );
  t.same(rows[0]?.hosts, { alpha: 'installed', bravo: 'installed', charlie: 'failed' }, 'shape kept');
  t.match(rows[0], { severity: 'critical', title: 'Patch P1', rebootRequired: true, superseded: 0 });

  const ids = async (q: string) => (await getJson(h, `/v1/reports/compliance?${q}`)).map((r) => r.patchId);
  t.same(await ids('severity=optional'), ['P3']);
  t.same(await ids('release=19.0'), ['P1', 'P2']);
  t.same(await ids('patch=P2'), ['P2']);
  t.same(await ids('since=2026-11-10T00:00:00Z'), ['P2', 'P3'], 'since/until select by publishedAt');
  t.same(await ids('until=2026-11-10T00:00:00Z'), ['P1']);
  const onlyBravo = await getJson(h, '/v1/reports/compliance?host=bravo&patch=P1');
  t.same(
    onlyBravo.map((r) => [r.installed, r.failed, r.pendingReboot, r.hosts]),
    [[1, 0, 0, { bravo: 'installed' }]],
  );

  const lines = await getCsv(
    h,
    '/v1/reports/compliance?format=csv&severity=critical',
    'compliance-catalog-1.csv',
    t,
  );
  t.same(lines, [
    '"patchId","severity","product","release","installed","missing","failed","superseded","title","pendingReboot","rebootRequired","publishedAt"',
    '"P1","critical","arcserve-backup","19.0","2","0","1","0","Patch P1","1","true","2026-11-01T00:00:00Z"',
  ]);
});

t.test('Patches Installed — history: installs and uninstalls, filters, paging, CSV', async (t) => {
  const h = await fleet(t);
  const rows = await getJson(h, '/v1/reports/installs');
  t.same(
    rows.map((r) => `${r.hostId}#${r.type}:${r.patchId}:${r.outcome}`),
    [
      'bravo#install:P1:ok',
      'alpha#install:P2:failed',
      'alpha#install:P1:ok',
      'bravo#uninstall:P1:ok',
      'bravo#install:P1:ok',
      'charlie#install:P3:ok',
    ],
    'newest first, no check events',
  );
  t.match(rows[1], {
    at: '2026-11-24T08:30:00.000Z',
    hostname: 'alpha.corp',
    title: 'Agent, "quoted"',
    severity: 'recommended',
    release: '19.0',
    message: 'exit 3, "disk full"',
    id: Number,
  });
  const pick = async (q: string) =>
    (await getJson(h, `/v1/reports/installs?${q}`)).map((r) => `${r.hostId}#${r.type}:${r.patchId}`);
  t.same(await pick('host=charlie'), ['charlie#install:P3']);
  t.same(await pick('patch=P2'), ['alpha#install:P2']);
  t.same(await pick('type=uninstall'), ['bravo#uninstall:P1']);
  t.same(await pick('severity=optional'), ['charlie#install:P3']);
  t.same(await pick('release=18.0'), ['charlie#install:P3']);
  t.same(await pick('since=2026-11-24T08:00:00Z'), [
    'bravo#install:P1',
    'alpha#install:P2',
    'alpha#install:P1',
  ]);
  t.same(
    await pick('until=2026-11-23T13:00:00Z'),
    ['bravo#install:P1', 'charlie#install:P3'],
    'until is exclusive',
  );
  t.same(await pick('host=bravo&since=2026-11-23T00:00:00Z&until=2026-11-24T00:00:00Z&severity=critical'), [
    'bravo#uninstall:P1',
    'bravo#install:P1',
  ]);

  const first = await fetch(`${h.base}/v1/reports/installs?limit=4`);
  const link = first.headers.get('link') ?? '';
  t.match(link, /^<\/v1\/reports\/installs\?.*before=\d+.*>; rel="next"$/);
  const next = await getJson(h, link.slice(1, link.indexOf('>')));
  t.same(
    next.map((r) => r.hostId),
    ['bravo', 'charlie'],
    'the next page continues where the first stopped',
  );

  const lines = await getCsv(h, '/v1/reports/installs?host=alpha&format=csv', 'installs.csv', t);
  t.equal(
    lines[0],
    '"at","hostId","hostname","type","patchId","title","severity","release","outcome","message","id"',
  );
  t.match(
    lines[1],
    /^"2026-11-24T08:30:00\.000Z","alpha","alpha\.corp","install","P2","Agent, ""quoted""","recommended","19\.0","failed","exit 3, ""disk full""","\d+"$/,
  );
  t.equal(lines.length, 3);
});

t.test('history (CONTRACT §2) takes until, severity and release too', async (t) => {
  const h = await fleet(t);
  const pick = async (q: string) =>
    (await getJson(h, `/v1/reports/history?${q}`)).map((e) => `${e.hostId}#${e.seq}`);
  t.same(await pick('host=alpha&until=2026-11-24T08:00:00Z'), ['alpha#1']);
  t.same(await pick('severity=recommended'), ['alpha#3']);
  t.same(await pick('release=18.0&type=install'), ['charlie#1']);
  const csv = await getCsv(
    h,
    '/v1/reports/history?host=alpha&until=2026-11-24T08:00:00Z&format=csv',
    'history.csv',
    t,
  );
  t.equal(csv.length, 2);
  t.match(csv[1], /^"2026-11-24T06:00:00\.000Z","alpha","1","check","","ok","",/);
});

t.test('invalid since/until: 400 naming the parameter, on every report', async (t) => {
  const h = await fleet(t);
  for (const path of [
    '/v1/reports/downloaded',
    '/v1/reports/installs',
    '/v1/reports/history',
    '/v1/reports/compliance',
  ]) {
    for (const [q, name] of [
      ['since=yesterday', 'since'],
      ['until=2026-13-45T00:00:00Z', 'until'],
      ['until=2026-11-24', 'until'],
      ['since=2026-11-24T10:00:00Z&until=2026-11-24T09:00:00Z', 'until'],
    ] as const) {
      const res = await fetch(`${h.base}${path}?${q}`);
      t.equal(res.status, 400, `${path}?${q}`);
      const body = (await res.json()) as { message: string; error: string };
      t.equal(body.error, 'Bad Request');
      t.match(body.message, new RegExp(`^querystring/${name} `), body.message);
    }
    const badSeverity = await fetch(`${h.base}${path}?severity=urgent`);
    t.equal(badSeverity.status, 400);
    t.match(((await badSeverity.json()) as { message: string }).message, /severity/);
  }
  const installsType = await fetch(`${h.base}/v1/reports/installs?type=check`);
  t.equal(installsType.status, 400, 'installs takes only install or uninstall');
});

t.test('/v1/clients: all without parameters, pages with limit and after', async (t) => {
  const h = await startHarness(t);
  for (const id of ['e', 'a', 'd', 'c', 'b']) await putReport(h.base, id, report(id));
  const all = await fetch(`${h.base}/v1/clients`);
  t.equal(all.headers.get('link'), null, 'no paging headers by default');
  t.same(
    ((await all.json()) as Row[]).map((c) => c.hostId),
    ['a', 'b', 'c', 'd', 'e'],
  );

  const seen: unknown[] = [];
  let path: string | null = '/v1/clients?limit=2';
  let pages = 0;
  while (path !== null) {
    const res: Response = await fetch(`${h.base}${path}`);
    t.equal(res.headers.get('x-total-count'), '5');
    seen.push(...((await res.json()) as Row[]).map((c) => c.hostId));
    const link = res.headers.get('link');
    path = link === null ? null : link.slice(1, link.indexOf('>'));
    pages++;
  }
  t.same(seen, ['a', 'b', 'c', 'd', 'e'], 'every host once, in order');
  t.equal(pages, 3);
  t.same(
    (await getJson(h, '/v1/clients?after=c')).map((c) => c.hostId),
    ['d', 'e'],
  );
  for (const q of ['limit=0', 'limit=10001', 'limit=x', 'after=']) {
    t.equal((await fetch(`${h.base}/v1/clients?${q}`)).status, 400, q);
  }
  const detail = (await getJson(h, '/v1/clients/a')) as unknown as Row;
  t.equal(detail.hostId, 'a');

  // The whole list is streamed a page at a time: past a page boundary, every host once, in order.
  const more = Array.from(
    { length: 2 * CLIENTS_STREAM_PAGE + 1 },
    (_, i) => `m-${String(i).padStart(5, '0')}`,
  );
  await h.store.ingestMany(more.map((id) => report(id)));
  const whole = await fetch(`${h.base}/v1/clients`);
  t.match(whole.headers.get('content-type'), /^application\/json/);
  const listed = (await whole.json()) as Row[];
  t.same(
    listed.map((c) => c.hostId),
    ['a', 'b', 'c', 'd', 'e', ...more],
  );
  t.match(listed[0], { hostId: 'a', hostname: 'a.corp', installed: 0, missing: 0, failed: 0 });
});
