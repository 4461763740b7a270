// Resumable partial downloads (<hex>.part + <hex>.part.json in store/tmp) are worth keeping
// only while their blob is still wanted. After a sync that fetched everything it wanted, a
// partial left there belongs to a file the feed dropped or changed while the server was down.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentStore } from '@patchbay/core';

const PARTIAL_FILE = /^([0-9a-f]{64})\.part(?:\.json)?$/;

/**
 * Remove everything in store/tmp except the partial pairs of digests in `keep`.
 * Call only when no download runs (the mirror runs one sync at a time). Returns the names removed.
 */
export async function prunePartials(store: ContentStore, keep: ReadonlySet<string>): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(store.tmpDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    const digest = PARTIAL_FILE.exec(name)?.[1];
    if (digest !== undefined && keep.has(digest)) continue;
    await rm(join(store.tmpDir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}
