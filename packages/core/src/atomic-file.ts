// STUB — implemented by the core-storage helper.

/**
 * Write a file so that readers see the old bytes or the new bytes, never a mix:
 * temp file in the same directory, write, fsync, rename, fsync the directory.
 * Parent directories are created. `mode` applies to the new file.
 */
export async function writeFileAtomic(_path: string, _data: Buffer | string, _opts: { mode?: number } = {}): Promise<void> {
  throw new Error('not implemented');
}

/** Read and JSON.parse a file; undefined when it does not exist. */
export async function readJsonFile<T>(_path: string): Promise<T | undefined> {
  throw new Error('not implemented');
}

/** fsync a directory (no-op where the platform cannot, e.g. Windows). */
export async function fsyncDir(_dir: string): Promise<void> {
  throw new Error('not implemented');
}
