// `serve`'s data-directory lock (one server per directory), registered right after the
// leadership, so released after everything that writes there. Replicas (database.url) share
// the directory: the leader lock (cluster/) guards its writers instead, so each replica
// holds a lock that guards nothing and releases nothing.
import { lockDataDir, type DataDirLock } from '../store/data-dir-lock.js';
import { partPlugin, type LifecycleOptions } from './lifecycle-plugin.js';

async function openDataDir({ config, logger }: LifecycleOptions): Promise<DataDirLock> {
  if (config.database.url === null || config.database.url === undefined)
    return lockDataDir(config.dataDir, logger);
  // A one-server `serve` (no database.url) on this directory would write beside the leader:
  // its lock refuses this start (PB_ERR_LOCKED naming it); free, the lock is not kept.
  await (await lockDataDir(config.dataDir, logger)).release();
  return { path: config.dataDir, release: () => Promise.resolve() };
}

/** Decorates `dataDirLock` (store/data-dir-lock.ts). */
export const dataDirPlugin = partPlugin({
  name: 'patchbay-data-dir',
  decorator: 'dataDirLock',
  part: 'data-dir lock',
  dependencies: ['patchbay-leadership'],
  open: openDataDir,
  close: (lock) => lock.release(),
});
