import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Temp name for an atomic write of `path`: same directory (so the rename stays on one
 * filesystem), hidden, unique per process and call: `.<name>.<pid>.<random>.tmp`.
 */
export function atomicTempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Write a file so that readers see the old bytes or the new bytes, never a mix:
 * temp file in the same directory, write, fsync, rename, fsync the directory.
 * Parent directories are created. `mode` applies to the new file.
 * On any error the temp file is removed and the old file is left as it was.
 */
export async function writeFileAtomic(
  path: string,
  data: Buffer | string,
  opts: { mode?: number } = {},
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = atomicTempPath(path);
  let handle: FileHandle | undefined;
  try {
    // 'wx': never follow or reuse something already at the temp name.
    handle = await open(temp, 'wx', opts.mode ?? 0o666);
    // The umask may have narrowed the mode; an explicit mode (e.g. 0600 for a key) is applied exactly.
    if (opts.mode !== undefined) await handle.chmod(opts.mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
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
