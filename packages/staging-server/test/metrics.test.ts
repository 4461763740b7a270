// GET /metrics over real HTTP on loopback: a real mirror syncing from a fixture upstream,
// real reports, blob and catalog downloads; the exposition text parsed and its values
// checked before and after each. (cli.test.ts checks that `serve` counts its own syncs.)
import { spawnSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadServerConfig, type ServerConfig } from '@patchbay/core';
import { ClientStateCounts } from '../src/metrics/fleet-states.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import type { MirrorService } from '../src/mirror.js';
import { report } from './fixtures/http-harness.js';
import {
  sha256,
  silentLogger,
  simplePatch,
  startUpstream,
  writeFeedDir,
  type FixtureFeed,
} from './fixtures/sync-upstream.js';

const ADMIN = 'metrics-test-admin-token';

// ---- a small reader of the Prometheus text format (prom-client only writes it) ----

interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  /** `name{a="1",b="2"}` (labels sorted) -> value */
  samples: Map<string, number>;
  text: string;
}

function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const labels = [...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}="${v}"`)
      .sort();
    samples.set(key(sample[1]!, labels), Number(sample[3]));
  }
  return { help, type, samples, text };
}

function key(name: string, labels: string[] | Record<string, string>): string {
  const list = Array.isArray(labels)
    ? labels
    : Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .sort();
  return list.length === 0 ? name : `${name}{${list.join(',')}}`;
}

function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return e.samples.get(key(name, labels));
}

// ---- one stack for the whole file: upstream, real mirror, report store, app ----

interface Stack {
  base: string;
  mirror: MirrorService;
  store: ReportStore;
  config: ServerConfig;
  scrape(token?: string | null): Promise<Exposition>;
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Response>;
  put(hostId: string, body: unknown, token?: string): Promise<Response>;
  sync(): Promise<void>;
}

const files = { A: `#!/bin/sh\necho A "$1"\n`, B: `#!/bin/sh\necho B "$1"\n` };
// BIG: larger than what loopback socket buffers hold, so that a client can cut its download off
const BIG = Buffer.alloc(16 << 20, 7);
const FEED: FixtureFeed = {
  sequence: 1,
  patches: [simplePatch('A'), simplePatch('B'), { id: 'BIG', files: [{ name: 'big.bin', content: BIG }] }],
};

async function startStack(t: Test): Promise<Stack> {
  const root = t.testdir({ feed: {}, data: {} });
  await writeFeedDir(join(root, 'feed'), FEED);
  const upstream = await startUpstream(join(root, 'feed'));
  t.teardown(() => upstream.close());
  const config = loadServerConfig({
    overrides: {
      dataDir: join(root, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: upstream.url, retries: 1, timeoutSeconds: 20 },
      schedule: { sync: null, gc: null, prune: null },
      // /metrics is a 'read' route: with publicStatus false it needs the admin token
      auth: { adminToken: ADMIN, publicStatus: false, reportTokens: 'optional' },
      log: { level: 'silent' },
    },
  });
  const mirror = await createMirrorService(config, silentLogger, { retryBaseMs: 5 });
  const store = await ReportStore.open(config.dataDir);
  const app = await buildServer({ mirror, store, config, logger: silentLogger });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await mirror.close();
    await store.close();
  });
  const auth = (token: string | null | undefined): Record<string, string> =>
    token ? { authorization: `Bearer ${token}` } : {};
  const stack: Stack = {
    base,
    mirror,
    store,
    config,
    async scrape(token = ADMIN) {
      const res = await fetch(`${base}/metrics`, { headers: auth(token) });
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
      return parseExposition(await res.text());
    },
    get: (path, headers = {}, method = 'GET') => fetch(`${base}${path}`, { method, headers }),
    put: (hostId, body, token) =>
      fetch(`${base}/v1/clients/${hostId}/report`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...auth(token) },
        body: JSON.stringify(body),
      }),
    // Through POST /v1/sync, as an operator would, then wait for it to end.
    async sync() {
      const before = (await stack.scrape()).samples;
      const total = (s: Map<string, number>): number =>
        [...s].filter(([k]) => k.startsWith('patchbay_syncs_total{')).reduce((n, [, v]) => n + v, 0);
      const res = await fetch(`${base}/v1/sync`, { method: 'POST', headers: auth(ADMIN) });
      if (res.status !== 202) throw new Error(`POST /v1/sync answered ${res.status}`);
      await until(
        'the sync counted',
        async () => total((await stack.scrape()).samples) === total(before) + 1,
      );
    },
  };
  return stack;
}

/** Poll a condition (no fixed sleeps), 20 ms apart; generous limits for a loaded CI machine. */
async function until(what: string, check: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const PATCHBAY_METRICS: [string, string][] = [
  ['patchbay_build_info', 'gauge'],
  ['patchbay_syncs_total', 'counter'],
  ['patchbay_sync_duration_seconds', 'histogram'],
  ['patchbay_sync_fetched_bytes_total', 'counter'],
  ['patchbay_sync_fetched_files_total', 'counter'],
  ['patchbay_sync_running', 'gauge'],
  ['patchbay_cluster_leader', 'gauge'],
  ['patchbay_sync_last_success_timestamp_seconds', 'gauge'],
  ['patchbay_sync_held_back_patches', 'gauge'],
  ['patchbay_catalog_sequence', 'gauge'],
  ['patchbay_catalog_upstream_sequence', 'gauge'],
  ['patchbay_catalog_patches', 'gauge'],
  ['patchbay_catalog_published_timestamp_seconds', 'gauge'],
  ['patchbay_catalog_expiry_timestamp_seconds', 'gauge'],
  ['patchbay_store_blobs', 'gauge'],
  ['patchbay_store_bytes', 'gauge'],
  ['patchbay_store_reclaimable_bytes', 'gauge'],
  ['patchbay_clients', 'gauge'],
  ['patchbay_http_request_duration_seconds', 'histogram'],
  ['patchbay_served_bytes_total', 'counter'],
  ['patchbay_http_requests_aborted_total', 'counter'],
  ['patchbay_reports_accepted_total', 'counter'],
  ['patchbay_report_events_stored_total', 'counter'],
  ['patchbay_report_events_duplicate_total', 'counter'],
  ['patchbay_report_events_conflicting_total', 'counter'],
  ['patchbay_reports_rejected_total', 'counter'],
];

const s = await startStack(t);

t.test('access: the admin token when publicStatus is false (a read route)', async (t) => {
  const none = await s.get('/metrics');
  t.equal(none.status, 401);
  t.match(await none.json(), { statusCode: 401, message: /admin token/ });
  const wrong = await s.get('/metrics', { authorization: 'Bearer not-the-token' });
  t.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const ok = await s.get('/metrics', { authorization: `Bearer ${ADMIN}` });
  t.equal(ok.status, 200);
  t.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(ok.headers.get('cache-control'), 'no-store');
  await ok.body?.cancel();
});

t.test('before the first sync: every metric described, zero series present', async (t) => {
  const e = await s.scrape();
  for (const [name, type] of PATCHBAY_METRICS) {
    t.equal(e.type.get(name), type, `# TYPE ${name} ${type}`);
    t.ok((e.help.get(name) ?? '').length > 10, `# HELP ${name}`);
  }
  t.equal(e.type.get('process_cpu_user_seconds_total'), 'counter', 'process metrics (prom-client defaults)');
  t.equal(e.type.get('nodejs_eventloop_lag_seconds'), 'gauge');
  t.match(e.text, /^patchbay_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
  for (const outcome of ['ok', 'unchanged', 'partial', 'failed'])
    t.equal(value(e, 'patchbay_syncs_total', { outcome }), 0, `syncs_total{outcome="${outcome}"} 0`);
  t.equal(value(e, 'patchbay_catalog_sequence'), 0);
  t.equal(value(e, 'patchbay_sync_last_success_timestamp_seconds'), 0, 'no success known');
  t.equal(value(e, 'patchbay_store_blobs'), 0);
  for (const state of ['compliant', 'behind', 'failed', 'pending_reboot', 'stale'])
    t.equal(value(e, 'patchbay_clients', { state }), 0);
});

t.test('a sync: counted with its outcome, duration and bytes; catalog and store gauges', async (t) => {
  const startedAt = Date.now() / 1000;
  await s.sync();
  const e = await s.scrape();
  t.equal(value(e, 'patchbay_syncs_total', { outcome: 'ok' }), 1);
  t.equal(value(e, 'patchbay_sync_duration_seconds_count', { outcome: 'ok' }), 1);
  t.ok((value(e, 'patchbay_sync_duration_seconds_sum', { outcome: 'ok' }) ?? -1) >= 0);
  t.equal(value(e, 'patchbay_sync_duration_seconds_bucket', { outcome: 'ok', le: '+Inf' }), 1);
  const bytes = files.A.length + files.B.length + BIG.length;
  t.equal(value(e, 'patchbay_sync_fetched_bytes_total'), bytes, 'the three files from upstream');
  t.equal(value(e, 'patchbay_sync_fetched_files_total'), 3);
  t.equal(value(e, 'patchbay_sync_running'), 0);
  t.equal(value(e, 'patchbay_cluster_leader'), 1, 'one server leads itself');
  t.equal(value(e, 'patchbay_sync_held_back_patches'), 0);
  const success = value(e, 'patchbay_sync_last_success_timestamp_seconds') ?? 0;
  t.ok(success >= Math.floor(startedAt) && success <= Date.now() / 1000 + 1, 'last success: just now');
  t.equal(value(e, 'patchbay_catalog_sequence'), s.mirror.current()?.sequence);
  t.equal(value(e, 'patchbay_catalog_upstream_sequence'), 1);
  t.equal(value(e, 'patchbay_catalog_patches'), 3);
  t.equal(
    value(e, 'patchbay_catalog_expiry_timestamp_seconds'),
    Date.parse(s.mirror.current()!.expiresAt) / 1000,
  );
  t.equal(value(e, 'patchbay_store_blobs'), 3);
  t.equal(value(e, 'patchbay_store_bytes'), bytes);

  // the same feed again: nothing new to publish
  await s.sync();
  const again = await s.scrape();
  t.equal(value(again, 'patchbay_syncs_total', { outcome: 'unchanged' }), 1);
  t.equal(value(again, 'patchbay_syncs_total', { outcome: 'ok' }), 1);
  t.equal(value(again, 'patchbay_sync_fetched_bytes_total'), bytes, 'nothing fetched again');
  t.ok((value(again, 'patchbay_sync_last_success_timestamp_seconds') ?? 0) >= success);
});

t.test('bytes served: whole blob, a range, HEAD and 304 (nothing), catalog identity and gzip', async (t) => {
  const served = async (kind: string): Promise<number> =>
    value(await s.scrape(), 'patchbay_served_bytes_total', { kind }) ?? Number.NaN;
  const blob = `/v1/blobs/sha256/${sha256(files.A)}`;
  const blobBefore = await served('blob');

  const whole = await s.get(blob);
  t.equal((await whole.arrayBuffer()).byteLength, files.A.length);
  t.equal(await served('blob'), blobBefore + files.A.length, 'the whole blob');

  const range = await s.get(blob, { range: 'bytes=0-4' });
  t.equal(range.status, 206);
  t.equal((await range.arrayBuffer()).byteLength, 5);
  t.equal(await served('blob'), blobBefore + files.A.length + 5, 'a range counts its own length');

  const head = await s.get(blob, {}, 'HEAD');
  t.equal(head.status, 200);
  const cached = await s.get(blob, { 'if-none-match': `"${sha256(files.A)}"` });
  t.equal(cached.status, 304);
  t.equal(await served('blob'), blobBefore + files.A.length + 5, 'HEAD and 304 send no body');

  // a download the client cuts off after its first chunk: aborted, no bytes counted
  await new Promise<void>((resolve, reject) => {
    const req = httpGet(`${s.base}/v1/blobs/sha256/${sha256(BIG)}`, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
  });
  const aborted = { method: 'GET', route: '/v1/blobs/sha256/*' };
  await until(
    'the cut-off download counted',
    async () => value(await s.scrape(), 'patchbay_http_requests_aborted_total', aborted) === 1,
  );
  t.equal(await served('blob'), blobBefore + files.A.length + 5, 'a cut-off transfer counts no bytes');

  const catalogBefore = await served('catalog');
  const identity = await s.get('/v1/catalog', { 'accept-encoding': 'identity' });
  const identityBytes = (await identity.arrayBuffer()).byteLength;
  t.equal(await served('catalog'), catalogBefore + identityBytes);
  // undici decodes gzip itself: the bytes on the wire are the precomputed gzip buffer
  const gzip = await s.get('/v1/catalog', { 'accept-encoding': 'gzip' });
  t.equal(gzip.headers.get('content-encoding'), 'gzip');
  await gzip.arrayBuffer();
  t.equal(await served('catalog'), catalogBefore + identityBytes + s.mirror.current()!.gzip.length);
});

t.test('request durations: by route pattern, never the raw URL', async (t) => {
  const missingBlob = `/v1/blobs/sha256/${'0'.repeat(64)}`;
  t.equal((await s.get(missingBlob)).status, 404);
  t.equal((await s.get('/no/such/route-xyz')).status, 404);
  const e = await s.scrape();
  const count = (labels: Record<string, string>): number | undefined =>
    value(e, 'patchbay_http_request_duration_seconds_count', labels);
  t.equal(count({ method: 'GET', route: '/v1/blobs/sha256/*', status_code: '206' }), 1, 'the range request');
  t.equal(count({ method: 'GET', route: '/v1/blobs/sha256/*', status_code: '404' }), 1);
  t.equal(count({ method: 'HEAD', route: '/v1/blobs/sha256/*', status_code: '200' }), 1);
  t.equal(count({ method: 'GET', route: 'unmatched', status_code: '404' }), 1, 'the 404 handler');
  t.equal(count({ method: 'POST', route: '/v1/sync', status_code: '202' }), 2);
  t.equal(count({ method: 'GET', route: '/metrics', status_code: '401' }), 2, 'refused scrapes');
  t.notMatch(e.text, /route-xyz|0{64}/, 'no raw URL in any label');
  t.equal(
    value(e, 'patchbay_http_request_duration_seconds_bucket', {
      method: 'GET',
      route: 'unmatched',
      status_code: '404',
      le: '+Inf',
    }),
    1,
  );
});

const event = (seq: number) => ({
  seq,
  type: 'install',
  patchId: 'A',
  at: `2026-11-24T09:${String(seq).padStart(2, '0')}:00Z`,
  outcome: 'ok',
  message: '',
});

t.test('report ingest: accepted, events stored, duplicates, rejections by reason', async (t) => {
  const counts = async () => {
    const e = await s.scrape();
    return {
      accepted: value(e, 'patchbay_reports_accepted_total'),
      stored: value(e, 'patchbay_report_events_stored_total'),
      duplicate: value(e, 'patchbay_report_events_duplicate_total'),
      invalid: value(e, 'patchbay_reports_rejected_total', { reason: 'invalid' }),
      unauthorized: value(e, 'patchbay_reports_rejected_total', { reason: 'unauthorized' }),
    };
  };
  t.same(await counts(), { accepted: 0, stored: 0, duplicate: 0, invalid: 0, unauthorized: 0 });
  const body = report('ingest-host', { events: [event(1), event(2)] });
  t.equal((await s.put('ingest-host', body)).status, 200);
  t.same(await counts(), { accepted: 1, stored: 2, duplicate: 0, invalid: 0, unauthorized: 0 });

  t.equal((await s.put('ingest-host', body)).status, 200, 'resent');
  t.same(await counts(), { accepted: 2, stored: 2, duplicate: 2, invalid: 0, unauthorized: 0 });

  t.equal((await s.put('ingest-host', { ...body, events: [event(2), event(3)] })).status, 200);
  t.same(await counts(), { accepted: 3, stored: 3, duplicate: 3, invalid: 0, unauthorized: 0 });

  // seq 3 again, but another event: not stored, counted apart from resends (issue 14)
  const other = { ...event(3), patchId: 'B', outcome: 'failed' };
  t.equal((await s.put('ingest-host', { ...body, events: [event(1), other] })).status, 200);
  t.same(await counts(), { accepted: 4, stored: 3, duplicate: 4, invalid: 0, unauthorized: 0 });
  t.equal(value(await s.scrape(), 'patchbay_report_events_conflicting_total'), 1);

  t.equal((await s.put('ingest-host', report('another-host'))).status, 400, 'hostId mismatch');
  t.equal((await s.put('ingest-host', { hostId: 'ingest-host' })).status, 400, 'schema');
  // reportTokens is optional here, but a token sent must be the host's own
  t.equal((await s.put('ingest-host', body, 'not-a-token')).status, 401);
  t.same(await counts(), { accepted: 4, stored: 3, duplicate: 4, invalid: 2, unauthorized: 1 });
});

t.test('clients by state: each host in one state, the sum is the fleet', async (t) => {
  const since = '2026-11-24T09:00:00Z';
  const patches = (...states: string[]) => states.map((state, i) => ({ id: `P${i}`, state, since }));
  // ingest-host (above) reported no patches: compliant
  const hosts: [string, Record<string, unknown>][] = [
    ['ok-host', { patches: patches('installed', 'superseded') }],
    ['behind-host', { patches: patches('installed', 'available') }],
    ['failed-host', { patches: patches('failed', 'available') }],
    ['reboot-host', { patches: patches('installed'), pendingReboot: true }],
  ];
  for (const [hostId, more] of hosts) t.equal((await s.put(hostId, report(hostId, more))).status, 200);
  // last heard from two days ago (the store takes the receive time as lastSeenAt)
  await s.store.ingest(report('old-host'), new Date(Date.now() - 48 * 3_600_000).toISOString());

  const want = { compliant: 2, behind: 1, failed: 1, pending_reboot: 1, stale: 1 };
  const states = async (): Promise<Record<string, number | undefined>> => {
    const e = await s.scrape();
    return Object.fromEntries(
      Object.keys(want).map((state) => [state, value(e, 'patchbay_clients', { state })]),
    );
  };
  // the counts are cached for a moment after they change: poll
  await until('the client states', async () => JSON.stringify(await states()) === JSON.stringify(want));
  t.same(await states(), want);
  t.equal((await s.store.countClients('')).total, 6, 'the sum is every host');
});

t.test('client states: cached until a report arrives or a minute passes', async (t) => {
  const store = await ReportStore.open(t.testdir());
  t.teardown(() => store.close());
  let now = Date.parse('2026-11-24T12:00:00Z');
  const counts = new ClientStateCounts(store, 24, () => now);
  // heard from 30 s short of the 24 h stale limit
  await store.ingest(report('edge-host'), new Date(now - 24 * 3_600_000 + 30_000).toISOString());
  t.match(await counts.get(), { compliant: 1, stale: 0 });
  now += 31_000;
  t.match(await counts.get(), { compliant: 1, stale: 0 }, 'nothing new within the minute: the cached count');
  now += 30_000;
  t.match(await counts.get(), { compliant: 0, stale: 1 }, 'a minute on: recounted, the host is stale');
  await store.ingest(report('new-host'), new Date(now).toISOString());
  now += 1_000;
  t.match(await counts.get(), { compliant: 1, stale: 1 }, 'a report arrived: recounted');
});

/** `promtool check metrics` on stdin: exit code and what it said; null when promtool is absent. */
function promtoolCheck(text: string): { status: number | null; output: string } | null {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

// Last: by now every kind of series this file makes is in the exposition (syncs, ranges,
// reports, rejections, aborted requests, labelled histograms).
t.test("promtool check metrics: the real /metrics passes Prometheus's own linter", async (t) => {
  const text = (await s.scrape()).text;
  const checked = promtoolCheck(text);
  if (checked === null) {
    // CI installs it (.ci/run); a developer machine may not have it.
    if (process.env.CI) t.fail('promtool is not installed, and CI must run this check');
    else
      t.pass('promtool check metrics', {
        skip: 'promtool is absent: apt-get install --no-install-recommends prometheus (Debian) to run this',
      });
    return;
  }
  t.equal(checked.output.trim(), '', 'no lint findings');
  t.equal(checked.status, 0, 'promtool exits 0');
  // The gauges prom-client names like counters are left out; their per-type series stay.
  t.notMatch(text, /^nodejs_active_(handles|requests|resources)_total/m);
  t.match(text, /^# TYPE nodejs_active_handles gauge$/m);
});
