// The mirror (sync/): the sync service over the data directory, and the mail observer of its
// syncs. Its close starts with the app's (preClose), beside the HTTP drain: a running sync
// stops at its next consistent point while downloads in flight finish.
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import type { Notifier } from '../notify/notifier.js';
import { observeSyncs } from '../notify/sync-observer.js';
import type { DataDirLock } from '../store/data-dir-lock.js';
import { createMirrorService } from '../sync/mirror-service.js';
import { closeWithApp, type LifecycleOptions } from './lifecycle-plugin.js';

async function mirror(app: FastifyInstance, { config, logger }: LifecycleOptions): Promise<void> {
  const lock = app.getDecorator<DataDirLock>('dataDirLock');
  const mirror = await createMirrorService(config, logger, { lock });
  app.decorate('mirror', mirror);
  const unobserve = observeSyncs(mirror.events, app.getDecorator<Notifier>('notifier'));
  let closing: Promise<void> | undefined;
  app.addHook('preClose', async () => {
    closing = mirror.close();
    // awaited in onClose; until then a failure must not count as unhandled
    closing.catch(() => undefined);
  });
  closeWithApp(app, logger, 'mirror', async () => {
    await (closing ?? mirror.close());
    unobserve();
  });
}

/** Decorates `mirror` (MirrorService). */
export const mirrorPlugin = fastifyPlugin(mirror, {
  name: 'patchbay-mirror',
  dependencies: ['patchbay-data-dir', 'patchbay-notifier'],
});
