// One staging server per data directory: two processes syncing into the same
// store and catalog would race on the publication counter and on current.json.
import { join } from 'node:path';
import { ensurePrivateDir, acquireDataDirLock, type DataDirLock, type Logger } from '@patchbay/core';

export type { DataDirLock } from '@patchbay/core';

/** `<dataDir>/lock`: a directory while held (core's lock), gone once released. */
export const LOCK_FILE_NAME = 'lock';

/**
 * Take `<dataDir>/lock` (the lock of @patchbay/core: a crashed holder's is taken over); a
 * live holder's is refused with PB_ERR_LOCKED naming the directory and the holder.
 */
export async function lockDataDir(dataDir: string, logger?: Logger): Promise<DataDirLock> {
  await ensurePrivateDir(dataDir);
  return acquireDataDirLock({
    dataDir,
    lockPath: join(dataDir, LOCK_FILE_NAME),
    logger,
    refusal: (holder) => {
      const held = holder
        ? `pid ${holder.pid}${holder.hostname ? ` on ${holder.hostname}` : ''}, since ${holder.since}`
        : `lock ${join(dataDir, LOCK_FILE_NAME)} is held`;
      return `data directory ${dataDir} is in use by another patchbay-server (${held}); stop it or choose another dataDir`;
    },
  });
}
