import { patchList, printPatchList } from '../scan.js';
import type { Session } from '../session.js';
import { missingInstallDirs } from '../install-dir.js';
import { pruneCache } from '../cache-prune.js';
import { expiryFields } from '../loaded-catalog.js';
import { reportNow } from './common.js';
import type { CommandArgs } from './common.js';
import { recordCheck, withHostScan } from './scan-session.js';

/**
 * check: fetch the catalog, scan this host, list the patches and their states, report. Exit 1
 * when no server answered and the list comes from the cached catalog.
 */
export async function checkCommand(session: Session, _args: CommandArgs): Promise<number> {
  const warnMissingInstallDirs = (): void => {
    for (const { key, dir } of missingInstallDirs(session.config)) {
      session.out.warn(
        `warning: ${key} ${dir} does not exist (a typo?): its patches all look not installed, and install refuses to use it`,
      );
    }
  };
  return withHostScan(session, { beforeScan: warnMissingInstallDirs }, async (s) => {
    const { ledger, loaded, scan, offline } = s;
    await recordCheck(s);
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
