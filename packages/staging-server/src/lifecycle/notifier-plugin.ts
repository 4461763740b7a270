// Mail notifications (notify/): the notifier and its outbox. Closes after the mirror and the
// HTTP side, so that a sync ending and reports arriving during the close are still mailed
// (or persisted in the outbox).
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import { createNotifier } from '../notify/notifier.js';
import { closeWithApp, type LifecycleOptions } from './lifecycle-plugin.js';

async function notifier(app: FastifyInstance, { config, logger }: LifecycleOptions): Promise<void> {
  const notifier = await createNotifier(config.notify, logger, { dataDir: config.dataDir });
  app.decorate('notifier', notifier);
  closeWithApp(app, logger, 'notifier', () => notifier.close());
}

/** Decorates `notifier` (a no-op one when notify is not configured). */
export const notifierPlugin = fastifyPlugin(notifier, {
  name: 'patchbay-notifier',
  dependencies: ['patchbay-data-dir'],
});
