// The mirror (sync/): the sync service over the data directory, and the mail observer of its
// syncs. Its close starts with the app's (preClose), beside the HTTP drain: a running sync
// stops at its next consistent point while downloads in flight finish.
//
// Replicas (cluster/): the mirror opens as the writer only on the leader; the leader duties
// switch it when the lock moves, and a follower reloads what the leader publishes.
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import { LeaderDuties } from '../cluster/leader-duties.js';
import type { Leadership } from '../cluster/leadership.js';
import { announcePublications } from '../cluster/publication-announce.js';
import { PublicationWatch } from '../cluster/publication-watch.js';
import type { MirrorService } from '../mirror.js';
import { leaderDutyOf } from '../notify/leader-notifier.js';
import type { Notifier } from '../notify/notifier.js';
import { observeSyncs } from '../notify/sync-observer.js';
import type { DataDirLock } from '../store/data-dir-lock.js';
import { createMirrorService } from '../sync/mirror-service.js';
import { systemClock } from '../tuf/timestamp-refresh.js';
import { closeWithApp, type LifecycleOptions } from './lifecycle-plugin.js';

async function mirror(app: FastifyInstance, { config, logger }: LifecycleOptions): Promise<void> {
  const lock = app.getDecorator<DataDirLock>('dataDirLock');
  const leadership = app.getDecorator<Leadership>('leadership');
  // what the mirror decided at open: the duties start from there
  let leadsAtOpen: boolean | undefined;
  const mirror = await createMirrorService(config, logger, {
    lock,
    leadership: {
      isLeader: () => (leadsAtOpen ??= leadership.isLeader()),
      stillLeader: () => leadership.stillLeader(),
    },
  });
  // the next replica may open the data directory now
  await leadership.startDone();
  const duties = new LeaderDuties(leadership, logger, leadsAtOpen ?? true);
  // Awaited: a leader has recovered an interrupted sync and cleaned its temp files before it
  // listens, so the start sync is running by the time anyone can ask /v1/status.
  await duties.add({ name: 'mirror', start: () => mirror.lead?.(), stop: () => mirror.follow?.() });
  const notifier = app.getDecorator<Notifier>('notifier');
  // replicas: the mail outbox and the stored events' mail run on the leader, after the mirror
  const mailDuty = leaderDutyOf(notifier);
  if (mailDuty) void duties.add(mailDuty);
  app.decorate('mirror', mirror);
  app.decorate('leaderDuties', duties);
  const unobserve = observeSyncs(mirror.events, notifier);
  const watch = await watchPublications(mirror, { config, logger });
  let closing: Promise<void> | undefined;
  app.addHook('preClose', async () => {
    await duties.close();
    closing = mirror.close();
    // awaited in onClose; until then a failure must not count as unhandled
    closing.catch(() => undefined);
  });
  closeWithApp(app, logger, 'mirror', async () => {
    await watch?.close();
    await (closing ?? mirror.close());
    unobserve();
  });
}

/** Replicas: followers reload what the leader publishes, and the leader announces it. */
async function watchPublications(
  mirror: MirrorService,
  { config, logger }: LifecycleOptions,
): Promise<{ close(): Promise<void> } | undefined> {
  const url = config.database.url;
  if (url === null || url === undefined) return undefined;
  const watch = new PublicationWatch(url, {
    checkSeconds: config.cluster.leaderRetrySeconds,
    clock: systemClock,
    logger,
    reload: () => mirror.reload?.() ?? Promise.resolve(false),
  });
  await watch.start();
  const unannounce = announcePublications(mirror.events, () => void watch.announce());
  return {
    close: async () => {
      unannounce();
      await watch.close();
    },
  };
}

/** Decorates `mirror` (MirrorService) and `leaderDuties` (what only the leader runs). */
export const mirrorPlugin = fastifyPlugin(mirror, {
  name: 'patchbay-mirror',
  dependencies: ['patchbay-leadership', 'patchbay-data-dir', 'patchbay-notifier'],
});
