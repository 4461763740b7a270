// One process changes a data directory at a time, for the server (two syncs would race on the
// publication counter and current.json) and the client (two commands would install at once).
// The design is the one a data directory on NFS or another shared mount needs: the lock is a
// directory made with mkdir (atomic there too, where O_EXCL has not always been), its mtime
// refreshed every 10 s and taken over only when stale (30 s unrefreshed: a hung holder or a
// dead host); a crashed holder (`owner.json` names a dead pid) is taken over at once, but only
// on its own host: a pid of another host means nothing here.
import { chmod } from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { ErrorCodes, PatchbayError, errorMessage } from './errors.js';
import {
  clearLegacyLockFile,
  readLockHolder,
  removeLockHolder,
  removeLockOfDeadHolder,
  writeLockHolder,
  type LockHolder,
} from './lock-holder.js';
import type { Logger } from './logger.js';
import { PRIVATE_DIR_MODE } from './private-files.js';

export type { LockHolder } from './lock-holder.js';

const STALE_MS = 30_000;
const REFRESH_MS = 10_000;

export interface DataDirLock {
  /** the lock directory */
  readonly path: string;
  release(): Promise<void>;
}

export interface DataDirLockOptions {
  /** the directory the lock guards (it must exist) */
  dataDir: string;
  /** where the lock directory goes, conventionally `<dataDir>/lock` */
  lockPath: string;
  /** the refusal's message, naming the holder when it is known */
  refusal: (holder: LockHolder | undefined) => string;
  logger?: Logger | undefined;
}

/**
 * Take the lock or throw PB_ERR_LOCKED (message from `refusal`, context: dataDir, lockFile and
 * the holder's pid and hostname when known). A lock left by a crash on this host is taken over.
 */
export async function acquireDataDirLock(options: DataDirLockOptions): Promise<DataDirLock> {
  const legacyHolder = await clearLegacyLockFile(options.lockPath, options.logger);
  if (legacyHolder) throw refused(options, legacyHolder);
  for (let attempt = 0; ; attempt++) {
    try {
      return await takeLock(options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      if (attempt === 0 && (await removeLockOfDeadHolder(options.lockPath, options.logger))) continue;
      throw refused(options, await readLockHolder(options.lockPath));
    }
  }
}

async function takeLock({ dataDir, lockPath, logger }: DataDirLockOptions): Promise<DataDirLock> {
  // Set when the lock was lost (not refreshed in time, or its directory changed under us): what
  // is at lockPath may be another process's by now, so release leaves it be.
  let lost = false;
  const release = await lockfile.lock(dataDir, {
    lockfilePath: lockPath,
    stale: STALE_MS,
    update: REFRESH_MS,
    retries: 0,
    realpath: false,
    onCompromised: (err) => {
      lost = true;
      if (logger)
        logger.error(
          { err: errorMessage(err), lock: lockPath },
          'lock on the data directory was compromised',
        );
      else
        process.emitWarning(`lock ${lockPath} on the data directory was compromised: ${errorMessage(err)}`);
    },
  });
  // proper-lockfile makes its lock directory under the umask; a mode change leaves its mtime be
  await chmod(lockPath, PRIVATE_DIR_MODE).catch(() => undefined);
  await writeLockHolder(lockPath);
  let released = false;
  return {
    path: lockPath,
    async release() {
      if (released || lost) return;
      released = true;
      await removeLockHolder(lockPath);
      // a lock lost meanwhile was reported when it was lost: releasing it is not a second failure
      await release().catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTACQUIRED' && err.code !== 'ERELEASED') throw err;
      });
    },
  };
}

function refused(options: DataDirLockOptions, holder: LockHolder | undefined): PatchbayError {
  return new PatchbayError(ErrorCodes.LOCKED, options.refusal(holder), {
    dataDir: options.dataDir,
    lockFile: options.lockPath,
    ...(holder ? { pid: holder.pid, hostname: holder.hostname } : {}),
  });
}
