// Crash leftovers outside the blob store: writeFileAtomic temp files whose writer died
// before its rename (catalog/, catalog/history/, upstream/, the key directory, the data dir
// itself for notify-outbox.json). store/tmp has its own cleaner (ContentStore.cleanTemp).
import { dirname, join } from 'node:path';
import { removeStaleAtomicTemps } from '@patchbay/core';

/** The directories the server writes with writeFileAtomic (or the key writer's temp + link). */
export function atomicWriteDirs(dataDir: string, keyFile: string): string[] {
  const dirs = [
    dataDir,
    join(dataDir, 'catalog'),
    join(dataDir, 'catalog', 'history'),
    join(dataDir, 'upstream'),
    dirname(keyFile),
  ];
  return [...new Set(dirs)];
}

/** Remove stale atomic-write temps; returns their paths (for one log line). */
export async function removeStrayTemps(dataDir: string, keyFile: string): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of atomicWriteDirs(dataDir, keyFile)) {
    for (const name of await removeStaleAtomicTemps(dir)) removed.push(join(dir, name));
  }
  return removed;
}
