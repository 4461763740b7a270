import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { failpoint } from './failpoint.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './private-files.js';
import { processAlive } from './process-alive.js';

/**
 * Temp name for an atomic write of `path`: same directory (so the rename stays on one
 * filesystem), hidden, unique per process and call: `.<name>.<pid>.<random>.tmp`.
 */
export function atomicTempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** `.<name>.<pid>.<12 hex>.tmp`, as atomicTempPath makes them; group 1 is the target name, group 2 the pid. */
const ATOMIC_TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** The target name and writer pid of an atomicTempPath name, or undefined for any other name. */
export function parseAtomicTempName(name: string): { target: string; pid: number } | undefined {
  const match = ATOMIC_TEMP_NAME.exec(name);
  return match ? { target: match[1]!, pid: Number(match[2]) } : undefined;
}

/**
 * Remove the temp files writeFileAtomic left in `dir` (not recursive) when its writer died
 * before the rename (a crash, kill -9). A temp whose writer pid is still alive is kept: it
 * may be a write in flight. Returns the names removed; a missing `dir` is nothing to clean.
 */
export async function removeStaleAtomicTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    const temp = parseAtomicTempName(name);
    if (temp === undefined || processAlive(temp.pid)) continue;
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Write a file so that readers see the old bytes or the new bytes, never a mix:
 * temp file in the same directory, write, fsync, rename, fsync the directory.
 * Parent directories are created. `mode` applies to the new file: by default 0600 (and
 * missing parent directories 0700), the programs' data being private whatever the umask;
 * 'umask' for files meant to be published (a feed, a repository's metadata): 0666 and 0777
 * less the umask. On any error the temp file is removed and the old file is left as it was.
 */
export async function writeFileAtomic(
  path: string,
  data: Buffer | string,
  opts: { mode?: number | 'umask' } = {},
): Promise<void> {
  const dir = dirname(path);
  const mode = opts.mode ?? PRIVATE_FILE_MODE;
  if (mode === 'umask') await mkdir(dir, { recursive: true });
  else await ensurePrivateDir(dir);
  const temp = atomicTempPath(path);
  let handle: FileHandle | undefined;
  try {
    // 'wx': never follow or reuse something already at the temp name.
    handle = await open(temp, 'wx', mode === 'umask' ? 0o666 : mode);
    // The umask may have narrowed the mode; an explicit mode (e.g. 0600 for a key) is applied exactly.
    if (mode !== 'umask') await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    failpoint(`atomic:before-rename:${basename(path)}`);
    await rename(temp, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/** A file's bytes; undefined when it does not exist (any other error throws). */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Read and JSON.parse a file; undefined when it does not exist. Invalid JSON throws, naming the file. */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new SyntaxError(`${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** fsync a file, so its bytes survive a crash before it is renamed into place. */
export async function fsyncFile(path: string): Promise<void> {
  // 'r+': Windows refuses FlushFileBuffers on a read-only handle.
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Codes from platforms that cannot open or fsync a directory (Windows, some network filesystems). */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EINVAL', 'ENOTSUP', 'EACCES']);

/** fsync a directory, so a rename in it survives a crash (no-op where the platform cannot, e.g. Windows). */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!DIR_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle?.close();
  }
}
