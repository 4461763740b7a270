import t from 'tap';
import { putReport, report, startHarness } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';

t.test('status: contract shape, redacted upstream, clients fresh and stale', async (t) => {
  const next = new Date('2026-11-24T11:00:00Z');
  const h = await startHarness(t, { nextSyncAt: () => next });
  const empty = (await (await fetch(`${h.base}/v1/status`)).json()) as Record<string, unknown>;
  t.equal(empty.lastSync, null);
  t.same(empty.mirror, { sequence: 0, patches: 0, blobs: 0, bytes: 0 });

  h.mirror.publish([patch('P1'), patch('P2')]);
  await h.mirror.addBlob('12345');
  h.mirror.setLastSync({
    startedAt: '2026-11-24T10:00:00.000Z',
    finishedAt: '2026-11-24T10:00:05.000Z',
    outcome: 'partial',
    error: null,
    upstreamSequence: 7,
    heldBack: [{ patchId: 'P9', error: 'sha256 mismatch' }],
    notModified: false,
    published: true,
    filesFetched: 3,
    bytesFetched: 42,
  });
  await putReport(h.base, 'fresh', report('fresh'));
  // a host last seen two days ago (the store takes the receive time as lastSeenAt)
  await h.store.ingest(report('old'), new Date(Date.now() - 48 * 3_600_000).toISOString());

  const status = (await (await fetch(`${h.base}/v1/status`)).json()) as Record<string, unknown>;
  t.match(status, {
    version: /^\d+\.\d+\.\d+/,
    uptimeSeconds: Number,
    upstream: { url: 'https://feeds.example.invalid/arcserve/' },
    lastSync: {
      startedAt: '2026-11-24T10:00:00.000Z',
      finishedAt: '2026-11-24T10:00:05.000Z',
      outcome: 'partial',
      error: null,
      upstreamSequence: 7,
      heldBack: [{ patchId: 'P9', error: 'sha256 mismatch' }],
    },
    nextSyncAt: '2026-11-24T11:00:00.000Z',
    mirror: { sequence: 1, patches: 2, blobs: 1, bytes: 5 },
    clients: { total: 2, stale: 1 },
  });
  t.notMatch(JSON.stringify(status), /s3cret|feed-user/, 'no credentials in the status');
});

t.test('status: nextSyncAt is null without a schedule', async (t) => {
  const h = await startHarness(t);
  const status = (await (await fetch(`${h.base}/v1/status`)).json()) as Record<string, unknown>;
  t.equal(status.nextSyncAt, null);
});

t.test('POST /v1/sync: 202, then 409 while it runs, 202 again after', async (t) => {
  const h = await startHarness(t);
  const first = await fetch(`${h.base}/v1/sync`, { method: 'POST' });
  t.equal(first.status, 202);
  t.same(await first.json(), { started: true });
  t.ok(h.mirror.isSyncing());
  const second = await fetch(`${h.base}/v1/sync`, { method: 'POST' });
  t.equal(second.status, 409);
  t.match(await second.json(), { statusCode: 409, error: 'Conflict', message: /already running/ });
  t.equal(h.mirror.syncsStarted, 1);
  h.mirror.finishSync('ok');
  const third = await fetch(`${h.base}/v1/sync`, { method: 'POST' });
  t.equal(third.status, 202);
  h.mirror.finishSync('ok');
});

t.test('POST /v1/sync: a PB_ERR_SYNC_IN_PROGRESS from startSync is 409 too', async (t) => {
  const h = await startHarness(t);
  h.mirror.isSyncing = () => false; // a race: not running when asked, refused when started
  void h.mirror.startSync();
  const res = await fetch(`${h.base}/v1/sync`, { method: 'POST' });
  t.equal(res.status, 409);
  h.mirror.finishSync('ok');
});

t.test('healthz always, readyz once a catalog is published', async (t) => {
  const h = await startHarness(t);
  const health = await fetch(`${h.base}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  const notReady = await fetch(`${h.base}/readyz`);
  t.equal(notReady.status, 503);
  t.match(await notReady.json(), { statusCode: 503, error: 'Service Unavailable', message: /no catalog/ });
  h.mirror.publish([patch('P1')]);
  const ready = await fetch(`${h.base}/readyz`);
  t.equal(ready.status, 200);
});

t.test('fastify inject reaches the same routes', async (t) => {
  const h = await startHarness(t);
  const res = await h.app.inject({ method: 'GET', url: '/v1/blobs/sha256/..%2Fx' });
  t.equal(res.statusCode, 400);
  t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: /malformed digest/ });
});
