// Private modes for what the server and the client keep (issue 14): their data directories
// 0700 and files 0600, set explicitly rather than left to the umask (under the common 022
// every database, key list and ledger would be world-readable). One place for the modes and
// the few ways files get made: directories, files opened for writing, and SQLite databases.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Directories the programs create for their data: the owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Files the programs write into their data directories: the owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/** True when `mode` gives the group or others any permission. */
export function hasGroupOrOtherBits(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/**
 * mkdir -p where every directory made is 0700 (a umask only removes bits, so none can widen
 * it). An existing directory is left as the operator made it. Returns the first directory
 * created, as mkdir does.
 */
export async function ensurePrivateDir(dir: string): Promise<string | undefined> {
  return mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** ensurePrivateDir, synchronously (for stores opened synchronously, e.g. SQLite). */
export function ensurePrivateDirSync(dir: string): string | undefined {
  return mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Drop an existing file's group and other bits (0644 → 0600); a missing file is fine. */
export async function narrowToPrivate(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isFile() && hasGroupOrOtherBits(info.mode)) await chmod(path, info.mode & 0o700);
}

/**
 * Narrow every file directly in `dir` (0644 → 0600): for files a library writes under the umask
 * (tuf-js persists metadata with a plain writeFileSync). A missing directory is nothing to do.
 */
export async function narrowFilesToPrivate(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) await narrowToPrivate(join(dir, name));
}

function narrowToPrivateSync(path: string): void {
  let mode: number;
  try {
    const info = statSync(path);
    if (!info.isFile()) return;
    mode = info.mode;
  } catch {
    return;
  }
  if (hasGroupOrOtherBits(mode)) chmodSync(path, mode & 0o700);
}

/** SQLite's side files, made beside the database with its mode. */
const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'];

/**
 * Make a SQLite database file private before it is opened: the file created empty 0600 when
 * missing (SQLite gives its -wal, -shm and -journal files the database's own mode), and an
 * existing database or side file narrowed (0644 → 0600). The directory is the caller's (see
 * ensurePrivateDirSync): when it is missing, SQLite's own open reports it. An in-memory
 * database (`:memory:`, or '' for a temporary one) has no file.
 */
export function preparePrivateDatabase(file: string): void {
  if (file === ':memory:' || file === '' || file.startsWith('file:')) return;
  try {
    // 'a': creates the file when missing, never truncates an existing database.
    closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const path of [file, ...SQLITE_SIDE_FILES.map((suffix) => file + suffix)]) narrowToPrivateSync(path);
}
