// The data directory made safely, before anything writes under it.
// Node's `mkdir(dir, { recursive: true })` loops forever (a core busy, no output) where the
// parent exists but refuses a child with ENOENT, e.g. anywhere under /proc: so the directory
// is made one level at a time (each new level 0700, as private-files.ts says), and any refusal is an error naming the key and the reason.
// On Windows, where the mode does nothing, a data directory it makes gets an ACL instead.
import { mkdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, PatchbayError, errorMessage } from './errors.js';
import { PRIVATE_DIR_MODE } from './private-files.js';
import { restrictDirToAdmins } from './windows-acl.js';

/**
 * Make `dir` (and its missing parents) or throw PB_ERR_CONFIG naming `key` (e.g. "dataDir"):
 * a path under a file (ENOTDIR), a filesystem that takes no new directory (/proc), no permission.
 * On Windows a data directory made here is restricted to SYSTEM and Administrators (icacls),
 * once; if that fails it is removed again, so the next start tries anew.
 */
export async function ensureDataDir(
  dir: string,
  key = 'dataDir',
  platform: NodeJS.Platform = process.platform,
): Promise<string> {
  const root = path.resolve(dir);
  const missing: string[] = [];
  for (let at = root; ; at = path.dirname(at)) {
    const found = await stat(at).catch((err: NodeJS.ErrnoException) => {
      // ENOTDIR: a file further up, found (and named) on the way up
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw dataDirError(root, key, `cannot use ${at}: ${errorMessage(err)}`, err.code);
    });
    if (found?.isDirectory()) break;
    if (found) throw dataDirError(root, key, `${at} is a file, not a directory`, 'ENOTDIR');
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  for (const level of missing) {
    await mkdir(level, { mode: PRIVATE_DIR_MODE }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return; // made meanwhile by another process
      throw dataDirError(root, key, `cannot create ${level}: ${errorMessage(err)}`, err.code);
    });
  }
  if (platform === 'win32' && missing.includes(root)) {
    await restrictDirToAdmins(root).catch(async (err: unknown) => {
      await rmdir(root).catch(() => undefined);
      throw dataDirError(root, key, errorMessage(err), undefined);
    });
  }
  return root;
}

function dataDirError(dir: string, key: string, reason: string, errno: string | undefined): PatchbayError {
  return new PatchbayError(ErrorCodes.CONFIG, `${key} ${dir} is not usable: ${reason}`, {
    key,
    path: dir,
    ...(errno ? { errno } : {}),
  });
}
