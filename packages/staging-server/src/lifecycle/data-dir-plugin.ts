// `serve`'s first plugin: the data-directory lock (one server per directory). Registered
// first, so released last: nothing else in this process still writes there once another
// process may take the directory.
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import { lockDataDir } from '../store/data-dir-lock.js';
import { closeWithApp, type LifecycleOptions } from './lifecycle-plugin.js';

async function dataDir(app: FastifyInstance, { config, logger }: LifecycleOptions): Promise<void> {
  const lock = await lockDataDir(config.dataDir, logger);
  app.decorate('dataDirLock', lock);
  closeWithApp(app, logger, 'data-dir lock', () => lock.release());
}

/** Decorates `dataDirLock` (store/data-dir-lock.ts). */
export const dataDirPlugin = fastifyPlugin(dataDir, { name: 'patchbay-data-dir' });
