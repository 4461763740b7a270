import { noteOffline, observeStates, patchList, printPatchList, scanHost, wentOffline } from '../scan.js';
import type { Session } from '../session.js';
import { applicable } from '../planner.js';
import { missingInstallDirs } from '../install-dir.js';
import { pruneCache } from '../cache-prune.js';
import { expiryFields } from '../catalog-source.js';
import { loadCatalog, reportNow, withHostLock } from './common.js';
import type { CommandArgs } from './common.js';

/**
 * check: fetch the catalog, scan this host, list the patches and their states, report. Exit 1
 * when no server answered and the list comes from the cached catalog.
 */
export async function checkCommand(session: Session, _args: CommandArgs): Promise<number> {
  return withHostLock(session, async (ledger) => {
    const loaded = await loadCatalog(session, ledger);
    noteOffline(session, loaded);
    for (const { key, dir } of missingInstallDirs(session.config)) {
      session.out.warn(
        `warning: ${key} ${dir} does not exist (a typo?): its patches all look not installed, and install refuses to use it`,
      );
    }
    const scan = await scanHost(session, ledger, loaded.catalog);
    await observeStates(ledger, scan);
    const offline = wentOffline(loaded);
    ledger.addEvent({
      type: 'check',
      outcome: 'ok',
      message:
        `catalog ${loaded.catalog.sequence}: ${applicable(scan.evaluations).length} applicable patch(es)` +
        (offline ? ' (staging server unreachable; cached catalog)' : '') +
        (loaded.expired ? ` (expired at ${loaded.catalog.expiresAt})` : ''),
    });
    await ledger.save();
    await pruneCache(session, ledger, loaded.catalog);
    await reportNow(session, ledger);
    printPatchList(session, patchList(scan.evaluations), offline, expiryFields(loaded));
    if (!offline) return 0;
    // the list may be out of date: said with the result, and the exit says the check did not reach a server
    session.out.line(
      `offline: no staging server answered; this list is from the cached catalog fetched at ${loaded.fetchedAt}`,
    );
    return 1;
  });
}
