// The compliance report's host view (?view=hosts: the status page's matrix, sorted and
// paged by the server) and the status page's shell, over real HTTP.
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { ReportStore } from '../src/reports/report-store.js';
import type { HostViewPage } from '../src/reports/views.js';
import { buildServer } from '../src/server.js';
import { STATUS_PAGE_CSP } from '../src/http/routes/status-page.js';
import { httpTestConfig, putReport, report, startHarness, type Harness } from './fixtures/http-harness.js';
import { TestMirror, patch } from './fixtures/http-mirror.js';

const SINCE = '2026-11-24T08:00:00Z';

type HostView = HostViewPage;

async function get(h: Harness, path: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${h.base}${path}`);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // CSV or HTML
  }
  return { status: res.status, body, headers: res.headers };
}

async function view(h: Harness, query = ''): Promise<HostView> {
  const res = await get(h, `/v1/reports/compliance?view=hosts${query}`);
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as HostView;
}

/** P1, P2 on 19.0, P3 on 18.0; four hosts, one (delta) with no patch relevant to it. */
async function fleet(t: Test): Promise<Harness> {
  const h = await startHarness(t);
  h.mirror.publish([
    patch('P1', { rebootRequired: true }),
    patch('P2', { severity: 'recommended' }),
    patch('P3', { severity: 'optional', release: '18.0' }),
  ]);
  const put = async (hostId: string, more: Parameters<typeof report>[1]) => {
    const res = await putReport(h.base, hostId, report(hostId, more));
    if (res.status !== 200) throw new Error(`${hostId}: ${res.status}`);
  };
  await put('alpha', {
    patches: [
      { id: 'P1', state: 'installed', since: SINCE },
      { id: 'P2', state: 'failed', since: SINCE },
    ],
  });
  await put('bravo', {
    hostname: 'Bravo-Files.corp',
    patches: [{ id: 'P1', state: 'available', since: SINCE }],
  });
  await put('charlie', {
    products: [
      { id: 'arcserve-backup', release: '19.0' },
      { id: 'arcserve-backup', release: '18.0' },
    ],
    patches: [
      { id: 'P1', state: 'installed', since: SINCE },
      { id: 'P2', state: 'superseded', since: SINCE },
      { id: 'P3', state: 'installed', since: SINCE },
    ],
  });
  await put('delta', { products: [{ id: 'arcserve-udp', release: '9.0' }] });
  return h;
}

t.test('host view: one row per host, behind first, the same counts as the per-patch view', async (t) => {
  const h = await fleet(t);
  const v = await view(h);
  t.same(
    v.hosts.map((r) => [r.hostId, r.behind, r.failed, r.relevant]),
    [
      ['bravo', 2, 0, 2],
      ['alpha', 1, 1, 2],
      ['charlie', 0, 0, 3],
    ],
    'bravo misses P1 and has not reported P2; alpha failed P2; delta has no relevant patch',
  );
  t.same(v.hosts[0]!.states, { P1: 'available', P2: 'unreported' });
  t.same(v.hosts[2]!.states, { P1: 'installed', P2: 'superseded', P3: 'installed' });
  t.equal(v.hosts[0]!.hostname, 'Bravo-Files.corp');
  t.match(v, { total: 3, offset: 0, limit: 100, sort: 'behind', order: 'desc', sequence: 1 });
  t.same(v.releases, ['18.0', '19.0']);

  const perPatch = (await get(h, '/v1/reports/compliance')).body as HostView['patches'];
  t.same(
    v.patches.map(({ patchId, installed, missing, failed, superseded }) => ({
      patchId,
      installed,
      missing,
      failed,
      superseded,
    })),
    perPatch.map(({ patchId, installed, missing, failed, superseded }) => ({
      patchId,
      installed,
      missing,
      failed,
      superseded,
    })),
    'patch columns count as the per-patch report',
  );
  t.notOk('hosts' in v.patches[0]!, 'columns carry no per-host map');
});

t.test('host view: sort, order, paging, search, filters, CSV', async (t) => {
  const h = await fleet(t);
  const ids = async (q: string) => (await view(h, q)).hosts.map((r) => r.hostId);
  t.same(await ids('&sort=hostId'), ['alpha', 'bravo', 'charlie']);
  t.same(await ids('&sort=hostId&order=desc'), ['charlie', 'bravo', 'alpha']);
  t.same(await ids('&sort=behind&order=asc'), ['charlie', 'alpha', 'bravo']);
  t.same(await ids('&sort=failed'), ['alpha', 'bravo', 'charlie'], 'ties by hostId');
  t.same(
    await ids('&sort=hostname'),
    ['alpha', 'bravo', 'charlie'],
    'alpha.corp, Bravo-Files.corp, charlie.corp',
  );

  const page = await get(h, '/v1/reports/compliance?view=hosts&limit=1&offset=1');
  t.same(
    (page.body as HostView).hosts.map((r) => r.hostId),
    ['alpha'],
  );
  t.equal(page.headers.get('x-total-count'), '3');
  t.match(page.headers.get('link'), /<\/v1\/reports\/compliance\?[^>]*offset=2[^>]*>; rel="next"/);
  const last = await get(h, '/v1/reports/compliance?view=hosts&limit=1&offset=2');
  t.equal(last.headers.get('link'), null, 'no next page after the last');

  t.same(await ids('&search=BRAVO-files'), ['bravo'], 'search: id or name, any case');
  t.same(await ids('&search=ha'), ['alpha', 'charlie']);
  t.same(await ids('&host=alpha'), ['alpha']);

  const critical = await view(h, '&severity=critical');
  t.same(
    critical.patches.map((p) => p.patchId),
    ['P1'],
  );
  t.same(
    critical.hosts.map((r) => [r.hostId, r.behind]),
    [
      ['bravo', 1],
      ['alpha', 0],
      ['charlie', 0],
    ],
  );
  const old = await view(h, '&release=18.0');
  t.same(
    old.hosts.map((r) => r.hostId),
    ['charlie'],
    'only hosts a selected patch is relevant to',
  );

  const csv = await get(h, '/v1/reports/compliance?view=hosts&format=csv&sort=hostId');
  t.equal(csv.headers.get('content-disposition'), 'attachment; filename="compliance-hosts-catalog-1.csv"');
  const lines = (csv.body as string).split('\r\n');
  t.equal(
    lines[0],
    '"hostId","hostname","platform","lastSeenAt","behind","missing","failed","installed","superseded","relevant","P1","P2","P3"',
  );
  t.equal(lines.length, 5, 'header, three hosts, and the final CRLF');
  const [, alphaLine, , charlieLine] = lines;
  t.match(
    alphaLine,
    /^"alpha","alpha\.corp","linux","\d{4}-[^,]+","1","0","1","1","0","2","installed","failed",""$/,
    'not relevant: empty',
  );
  t.match(
    charlieLine,
    /^"charlie","charlie\.corp","linux","[^,]+","0","0","0","2","1","3","installed","superseded","installed"$/,
  );
});

t.test('host view: bad parameters are refused by name', async (t) => {
  const h = await fleet(t);
  const bad = async (q: string) => get(h, `/v1/reports/compliance?${q}`);
  const limit = await bad('limit=5');
  t.equal(limit.status, 400);
  t.match((limit.body as { message: string }).message, 'querystring/limit applies only with view=hosts');
  t.equal((await bad('search=x')).status, 400, 'search without view=hosts');
  t.equal((await bad('view=hosts&sort=size')).status, 400);
  t.equal((await bad('view=hosts&limit=0')).status, 400);
  t.equal((await bad('view=hosts&offset=-1')).status, 400);
  t.equal((await bad('view=grid')).status, 400);
  const past = await view(h, '&offset=10');
  t.same(past.hosts, [], 'a page past the end is empty');
  t.equal(past.total, 3);
});

t.test('host view: a new report shows at once (the cached fleet read is dropped)', async (t) => {
  const h = await fleet(t);
  t.equal((await view(h, '&host=bravo')).hosts[0]!.behind, 2);
  await putReport(
    h.base,
    'bravo',
    report('bravo', {
      reportedAt: '2026-11-24T11:00:00Z',
      patches: [
        { id: 'P1', state: 'installed', since: SINCE },
        { id: 'P2', state: 'installed', since: SINCE },
      ],
    }),
  );
  t.equal((await view(h, '&host=bravo')).hosts[0]!.behind, 0);
  t.equal((await view(h)).hosts.at(-1)!.hostId, 'charlie', 'ties after the change still by hostId');
});

t.test('the status page shell is open, the data it reads keeps its access', async (t) => {
  const dir = t.testdir();
  const store = await ReportStore.open(dir);
  const config = { ...httpTestConfig(dir), auth: { publicStatus: false, adminToken: 'admin-secret-token' } };
  const app = await buildServer({
    mirror: new TestMirror(dir),
    store,
    config,
    logger: pino({ level: 'silent' }),
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await store.close();
  });

  const page = await fetch(`${base}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.equal(page.headers.get('content-security-policy'), STATUS_PAGE_CSP);
  t.equal(page.headers.get('cache-control'), 'no-cache');
  const html = await page.text();
  t.match(html, '<script type="module" src="/status-page/app.js">');
  t.notMatch(html, /https?:\/\//, 'nothing from another origin');

  for (const file of ['app.js', 'api.js', 'dom.js', 'matrix.js', 'host.js', 'overview.js', 'states.js']) {
    const res = await fetch(`${base}/status-page/${file}`);
    t.equal(res.status, 200, file);
    t.match(res.headers.get('content-type'), /javascript/, `${file} is served as a module script`);
  }
  t.equal((await fetch(`${base}/status-page/style.css`)).status, 200);
  t.equal((await fetch(`${base}/status-page/%2e%2e/package.json`)).status, 404, 'nothing outside the folder');
  t.equal((await fetch(`${base}/status-page/missing.js`)).status, 404);

  t.equal((await fetch(`${base}/v1/status`)).status, 401, 'the data needs the admin token');
  const authed = await fetch(`${base}/v1/status`, {
    headers: { authorization: 'Bearer admin-secret-token' },
  });
  t.equal(authed.status, 200);
});
