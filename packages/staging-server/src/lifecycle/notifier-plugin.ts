// Mail notifications (notify/): the notifier and its outbox. Closes after the mirror and the
// HTTP side, so that a sync ending and reports arriving during the close are still mailed
// (or persisted in the outbox). Replicas (database.url): the outbox is the leader's, and the
// leader mails the events any replica stored (notify/leader-notifier.ts).
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import type { Leadership } from '../cluster/leadership.js';
import type { MirrorService } from '../mirror.js';
import { LeaderNotifier } from '../notify/leader-notifier.js';
import { createNotifier, type Notifier } from '../notify/notifier.js';
import type { ReportStore } from '../reports/report-store.js';
import { systemClock } from '../tuf/timestamp-refresh.js';
import { closeWithApp, type LifecycleOptions } from './lifecycle-plugin.js';

async function notifier(app: FastifyInstance, { config, logger }: LifecycleOptions): Promise<void> {
  let notifier: Notifier;
  if (config.database.url === null || config.database.url === undefined) {
    notifier = await createNotifier(config.notify, logger, { dataDir: config.dataDir });
  } else {
    const leadership = app.getDecorator<Leadership>('leadership');
    notifier = new LeaderNotifier(config.notify, logger, {
      notifier: { dataDir: config.dataDir, mayPersist: () => leadership.stillLeader() },
      events: app.getDecorator<ReportStore>('reportStore'),
      // the mirror opens after the notifier; no catalog until then
      catalog: () =>
        app.hasDecorator('mirror')
          ? (app.getDecorator<MirrorService>('mirror').current()?.catalog ?? null)
          : null,
      intervalMs: config.cluster.leaderRetrySeconds * 1000,
      clock: systemClock,
    });
  }
  app.decorate('notifier', notifier);
  closeWithApp(app, logger, 'notifier', () => notifier.close());
}

/** Decorates `notifier` (a no-op one when notify is not configured). */
export const notifierPlugin = fastifyPlugin(notifier, {
  name: 'patchbay-notifier',
  dependencies: ['patchbay-data-dir', 'patchbay-report-store'],
});
