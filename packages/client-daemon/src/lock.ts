import { ensureDataDir, acquireDataDirLock } from '@patchbay/core';
import type { Logger } from '@patchbay/core';
import type { DataPaths } from './paths.js';

export type Release = () => Promise<void>;

/**
 * One patchbay-client changes this host at a time: the data-dir lock of @patchbay/core on
 * <dataDir>/lock (refreshed while held, taken over when stale or when its holder crashed).
 */
export async function lockDataDir(paths: DataPaths, logger: Logger): Promise<Release> {
  // made level by level (a recursive mkdir spins forever under /proc), each level 0700
  await ensureDataDir(paths.root);
  const lock = await acquireDataDirLock({
    dataDir: paths.root,
    lockPath: paths.lock,
    logger,
    refusal: (holder) => {
      const held = holder ? ` by pid ${holder.pid} on ${holder.hostname} since ${holder.since}` : '';
      return `another patchbay-client is changing this host (lock ${paths.lock} is held${held}); try again when it is done`;
    },
  });
  return () => lock.release();
}
