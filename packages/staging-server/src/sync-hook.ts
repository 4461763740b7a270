// A MirrorService that delegates to the real one and calls `afterSync` when a sync ends,
// with the catalog that was served before it. How mail (notify/) and metrics (metrics/)
// watch syncs from outside the sync engine, which stays unaware of both.
import type { MirrorService, PublishedCatalog, SyncReport } from './mirror.js';

export type AfterSync = (before: PublishedCatalog | null, report: SyncReport) => void;

export function withSyncHook(mirror: MirrorService, afterSync: AfterSync): MirrorService {
  return {
    current: () => mirror.current(),
    blobPath: (hex) => mirror.blobPath(hex),
    lastSync: () => mirror.lastSync(),
    lastUpdate: () => mirror.lastUpdate?.() ?? null,
    isSyncing: () => mirror.isSyncing(),
    stats: () => mirror.stats(),
    gc: (opts) => mirror.gc(opts),
    storage: () => mirror.storage(),
    close: () => mirror.close(),
    tufRepository: () => mirror.tufRepository?.() ?? null,
    startSync: () => {
      const before = mirror.current();
      // startSync throws at once when a sync runs; that error reaches the caller unchanged
      // and the hook is not called (no sync ran).
      return mirror.startSync().then((report) => {
        afterSync(before, report);
        return report;
      });
    },
  };
}
