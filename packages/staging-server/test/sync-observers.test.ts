// Sync observers subscribe to the mirror's events (src/sync/sync-events.ts): a real mirror
// syncing from a fixture upstream on loopback. An observer that throws is logged, structured,
// and neither the sync nor the observers after it notice.
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import type { FeedPatch } from '@patchbay/core';
import type { SyncEnded, SyncStarted } from '../src/mirror.js';
import { createServerMetrics, observeSyncMetrics } from '../src/metrics/index.js';
import type { Notifier } from '../src/notify/notifier.js';
import { observeSyncs } from '../src/notify/sync-observer.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { simplePatch, startUpstream, testConfig, writeFeedDir } from './fixtures/sync-upstream.js';

interface LogLine {
  level: number;
  msg: string;
  event?: string;
  err?: string;
}

t.test(
  'an observer that throws: logged with its event, the sync and the other observers go on',
  async (t) => {
    const root = t.testdir({ feed: {}, data: {} });
    await writeFeedDir(join(root, 'feed'), { sequence: 1, patches: [simplePatch('P1'), simplePatch('P2')] });
    const upstream = await startUpstream(join(root, 'feed'));
    t.teardown(() => upstream.close());
    const lines: LogLine[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (text: string) => lines.push(JSON.parse(text) as LogLine) },
    );
    const mirror = await createMirrorService(testConfig(join(root, 'data'), upstream.url), logger);
    t.teardown(() => mirror.close());

    // Subscribed first, so the observers after it run only if its failure is contained.
    mirror.events.on('sync:start', () => {
      throw new Error('observer broke on start');
    });
    mirror.events.on('sync:end', () => {
      throw new Error('observer broke on end');
    });
    const started: SyncStarted[] = [];
    const ended: SyncEnded[] = [];
    mirror.events.on('sync:start', (e) => started.push(e));
    mirror.events.on('sync:end', (e) => ended.push(e));
    const metrics = createServerMetrics();
    observeSyncMetrics(mirror.events, metrics);
    const mailed: { ids: string[]; sequence: number }[] = [];
    const notifier = {
      enabled: true,
      onSyncFinished: (_report: unknown, patches: readonly FeedPatch[], sequence: number) =>
        mailed.push({ ids: patches.map((p) => p.id), sequence }),
    } as unknown as Notifier;
    observeSyncs(mirror.events, notifier);

    const report = await mirror.startSync();
    t.equal(report.outcome, 'ok', 'the sync succeeded');
    t.ok(report.published, 'and published its catalog');
    t.equal(mirror.current()?.catalog.patches.length, 2);

    t.equal(started.length, 1, 'sync:start reached the observer after the failing one');
    t.equal(started[0]?.catalog, null, 'nothing was served as it started');
    t.equal(ended.length, 1, 'sync:end reached it too');
    t.equal(ended[0]?.report, report, 'with the report the sync returned');
    t.equal(ended[0]?.after, mirror.current(), 'and the catalog it published');
    const counted = (await metrics.syncs.get()).values.find((v) => v.labels.outcome === 'ok');
    t.equal(counted?.value, 1, 'metrics counted the sync');
    t.same(mailed, [{ ids: ['P1', 'P2'], sequence: 1 }], 'mail was told of the new patches');

    const failures = lines.filter((l) => l.msg === 'a sync observer failed; the sync goes on');
    t.same(
      failures.map(({ level, event, err }) => ({ level, event, err })),
      [
        { level: 50, event: 'sync:start', err: 'observer broke on start' },
        { level: 50, event: 'sync:end', err: 'observer broke on end' },
      ],
      'each failure logged at error level with its event and message',
    );
  },
);

t.test('unsubscribed observers hear nothing more', async (t) => {
  const root = t.testdir({ feed: {}, data: {} });
  await writeFeedDir(join(root, 'feed'), { sequence: 1, patches: [simplePatch('P1')] });
  const upstream = await startUpstream(join(root, 'feed'));
  t.teardown(() => upstream.close());
  const mirror = await createMirrorService(
    testConfig(join(root, 'data'), upstream.url),
    pino({ level: 'silent' }),
  );
  t.teardown(() => mirror.close());
  const metrics = createServerMetrics();
  const unobserve = observeSyncMetrics(mirror.events, metrics);
  await mirror.startSync();
  unobserve();
  await mirror.startSync();
  const total = (await metrics.syncs.get()).values.reduce((n, v) => n + v.value, 0);
  t.equal(total, 1, 'only the sync before unsubscribing was counted');
});
