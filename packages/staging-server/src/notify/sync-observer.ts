// Watches syncs from outside the sync engine: a MirrorService that delegates to the
// real one and, when a sync publishes a catalog, tells the notifier which patch ids
// the previous catalog did not have. (src/sync stays unaware of mail.)
import type { Logger } from '@patchbay/core';
import { errorMessage } from '@patchbay/core';
import type { MirrorService, SyncReport } from '../mirror.js';
import { withSyncHook } from '../sync-hook.js';
import { newPatches } from './events.js';
import type { Notifier } from './notifier.js';

export function observeSyncs(mirror: MirrorService, notifier: Notifier, logger: Logger): MirrorService {
  if (!notifier.enabled) return mirror;
  const afterSync = (before: ReturnType<MirrorService['current']>, report: SyncReport): void => {
    try {
      const after = mirror.current();
      if (after === null || after === before || after.sequence === before?.sequence) return;
      notifier.onSyncFinished(report, newPatches(before?.catalog, after.catalog), after.sequence);
    } catch (err) {
      logger.error({ err: errorMessage(err) }, 'could not work out the new patches of a sync');
    }
  };
  return withSyncHook(mirror, afterSync);
}
