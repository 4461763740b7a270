import { patchList, printPatchList } from '../scan.js';
import { scanHost } from '../scan.js';
import type { Session } from '../session.js';
import type { CommandArgs } from './common.js';

/** status: what this host knows without fetching (cached catalog, detect rules, ledger). */
export async function statusCommand(session: Session, _args: CommandArgs): Promise<number> {
  const loaded = await session.catalogSource.cachedOrThrow();
  const ledger = await session.openLedger();
  const scan = await scanHost(session, ledger, loaded.catalog);
  printPatchList(session, patchList(scan.evaluations), false);
  if (!session.out.json) {
    const pending = ledger.pendingEvents().length;
    session.out.note(
      `catalog ${loaded.catalog.sequence} from ${loaded.server} at ${loaded.fetchedAt}` +
        (pending > 0 ? `; ${pending} event(s) not yet reported` : ''),
    );
  }
  return 0;
}
