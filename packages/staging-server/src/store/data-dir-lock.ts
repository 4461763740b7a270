// One staging server per data directory: two processes syncing into the same
// store and catalog would race on the publication counter and on current.json.
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, ErrorCodes, PatchbayError, PRIVATE_FILE_MODE, processAlive } from '@patchbay/core';

export const LOCK_FILE_NAME = 'lock';

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  startedAt: string;
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, startedAt: String(parsed.startedAt) } : null;
  } catch {
    return null;
  }
}

/**
 * Take `<dataDir>/lock` with an O_EXCL create holding our pid. A lock whose
 * process is gone (crash, kill -9) is stale and taken over; a live one is
 * refused with PB_ERR_LOCKED naming the directory and the holder.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await ensurePrivateDir(dataDir);
  const path = join(dataDir, LOCK_FILE_NAME);
  const owner: LockOwner = { pid: process.pid, startedAt: new Date().toISOString() };

  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
      try {
        await handle.writeFile(JSON.stringify(owner) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await readOwner(path);
      if (holder && processAlive(holder.pid)) {
        throw new PatchbayError(
          ErrorCodes.LOCKED,
          `data directory ${dataDir} is in use by another patchbay-server (pid ${holder.pid}, since ${holder.startedAt}); ` +
            `stop it or choose another dataDir`,
          { dataDir, lockFile: path, pid: holder.pid },
        );
      }
      // Stale (holder is gone, or the file is unreadable): remove and try once more.
      await unlink(path).catch(() => undefined);
    }
  }
  throw new PatchbayError(
    ErrorCodes.LOCKED,
    `data directory ${dataDir}: could not take the lock file ${path}`,
    {
      dataDir,
      lockFile: path,
    },
  );
}
