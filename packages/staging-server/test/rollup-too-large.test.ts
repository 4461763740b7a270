// The rollup against a parent with a small body limit (413): a batch too large is split, a
// host with more events than fit goes in pieces, and a host whose report never fits, even
// alone with one event, is skipped with a recorded error — the rest of the branch still
// reaches the parent. Two real servers over loopback.
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { RollupSender } from '../src/tiers/rollup-sender.js';
import { readRollupStatus } from '../src/tiers/rollup-status.js';
import { SqliteTokenStore } from '../src/auth/sqlite-token-store.js';
import { putReport, report, startHarness, type Harness } from './fixtures/http-harness.js';

const event = (seq: number) => ({
  seq,
  type: 'install' as const,
  patchId: 'T5KB0042',
  at: `2026-11-24T09:${String(seq % 60).padStart(2, '0')}:00Z`,
  outcome: 'ok',
  message: `installed in pass ${seq}`,
});

async function getJson<T>(h: Harness, path: string): Promise<T> {
  const res = await fetch(`${h.base}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

t.test('rollup: a 413 splits the batch; a host too large even alone is skipped, recorded', async (t) => {
  // The parent takes rollups up to 4 × 2 KiB; the branch's own limit is the usual 64 KiB.
  const parent = await startHarness(t, { reports: { maxBodyBytes: 2048 } });
  // its own data dir: a second t.testdir() would wipe the parent's (and its tokens)
  const child = await startHarness(t, { dir: join(parent.config.dataDir, 'child') });
  for (let i = 1; i <= 6; i++) {
    const id = `h-${String(i).padStart(2, '0')}`;
    await putReport(child.base, id, report(id, { events: [event(1), event(2)] }));
  }
  // 80 events of ~150 bytes: more than one rollup holds, each one fits.
  const chatty = Array.from({ length: 80 }, (_, i) => event(i + 1));
  t.equal((await putReport(child.base, 'chatty', report('chatty', { events: chatty }))).status, 200);
  // A snapshot of 400 patches never fits in 8 KiB, not even with one event.
  const patches = Array.from({ length: 400 }, (_, i) => ({
    id: `T5KB${String(i).padStart(4, '0')}`,
    state: 'installed' as const,
  }));
  t.equal(
    (await putReport(child.base, 'huge', report('huge', { patches, events: [event(1), event(2)] }))).status,
    200,
  );

  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  // the parent takes rollups only with a branch token (enroll --branch)
  const tokens = SqliteTokenStore.open(parent.config.dataDir);
  const branchToken = await tokens.enroll('branch-b', new Date(), 'branch');
  await tokens.close();
  const s = new RollupSender({
    config: {
      url: parent.base,
      branchId: 'branch-b',
      token: branchToken,
      tokenFile: null,
      schedule: null,
      intervalSeconds: null,
    },
    dataDir: child.config.dataDir,
    reports: child.store,
    fingerprint: '0123456789abcdef',
    logger,
    retryBaseMs: 1,
  });
  t.teardown(() => s.close());
  await s.run('test');

  const status = s.status();
  t.equal(status.error, null, 'the run succeeds: nothing stalls');
  t.match(status.skipped, [{ hostId: 'huge', events: 2, error: /HTTP 413/ }], 'the skipped host is recorded');
  t.equal(status.skipped.length, 1);
  t.match(
    await readRollupStatus(child.config.dataDir),
    { skipped: [{ hostId: 'huge' }] },
    'GET /v1/rollup shows it',
  );
  t.ok(
    lines.some((l) => /"level":50/.test(l) && /"hostId":"huge"/.test(l) && /skipped/.test(l)),
    'an error is logged naming the host',
  );

  const clients = await getJson<{ hostId: string }[]>(parent, '/v1/clients');
  t.same(
    clients.map((c) => c.hostId).sort(),
    ['chatty', 'h-01', 'h-02', 'h-03', 'h-04', 'h-05', 'h-06'],
    'every other host reached the parent',
  );
  const history = await getJson<{ hostId: string }[]>(parent, '/v1/reports/history?limit=1000');
  t.equal(history.filter((e) => e.hostId === 'chatty').length, 80, "all of chatty's events, in pieces");
  t.equal(history.filter((e) => e.hostId.startsWith('h-')).length, 12);

  // Later news of the branch still flows; the skipped host is not retried until it reports again.
  await putReport(
    child.base,
    'h-01',
    report('h-01', { reportedAt: '2026-11-24T11:00:00Z', events: [event(3)] }),
  );
  await s.run('news');
  t.equal(s.status().error, null);
  t.same(s.status().lastRun, { requests: 1, hosts: 1, accepted: 1, refused: [] }, 'only the news went');
  t.equal(s.status().skipped.length, 1, 'no second record for the same snapshot');
});
