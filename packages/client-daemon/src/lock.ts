import { chmod } from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { ensureDataDir, ErrorCodes, PatchbayError, PRIVATE_DIR_MODE, errorMessage } from '@patchbay/core';
import type { Logger } from '@patchbay/core';
import type { DataPaths } from './paths.js';
import { readLockOwner, removeLockOfDeadOwner, removeLockOwner, writeLockOwner } from './lock-owner.js';

export type Release = () => Promise<void>;

/**
 * One patchbay-client changes this host at a time: an exclusive lock on the data
 * directory (<dataDir>/lock, refreshed while held, taken over when stale after a crash).
 */
export async function lockDataDir(paths: DataPaths, logger: Logger, takeover = true): Promise<Release> {
  // made level by level (a recursive mkdir spins forever under /proc), each level 0700
  await ensureDataDir(paths.root);
  try {
    const release = await lockfile.lock(paths.root, {
      lockfilePath: paths.lock,
      stale: 30_000,
      update: 10_000,
      retries: 0,
      realpath: false,
      onCompromised: (err) =>
        logger.error({ err: errorMessage(err) }, 'lock on the data directory was compromised'),
    });
    // proper-lockfile makes its lock directory under the umask; a mode change leaves its mtime be
    await chmod(paths.lock, PRIVATE_DIR_MODE).catch(() => undefined);
    await writeLockOwner(paths.lock);
    return async () => {
      await removeLockOwner(paths.lock);
      await release();
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
      if (takeover && (await removeLockOfDeadOwner(paths.lock, logger))) {
        return lockDataDir(paths, logger, false);
      }
      const owner = await readLockOwner(paths.lock);
      const holder = owner ? ` by pid ${owner.pid} on ${owner.hostname} since ${owner.since}` : '';
      throw new PatchbayError(
        ErrorCodes.LOCKED,
        `another patchbay-client is changing this host (lock ${paths.lock} is held${holder}); try again when it is done`,
        { path: paths.lock, ...(owner ? { pid: owner.pid } : {}) },
      );
    }
    throw err;
  }
}
