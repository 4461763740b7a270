import { downloadPlanned } from '../apply.js';
import type { ActionResult } from '../apply.js';
import { planInstall, selectIds } from '../planner.js';
import { noteOffline, observeStates, scanHost, wentOffline } from '../scan.js';
import type { Session } from '../session.js';
import { exitCodeFor, loadCatalog, printResults, reportNow, withHostLock } from './common.js';
import type { CommandArgs } from './common.js';

/** download [ID... | --all | --critical]: the selection and its requirements into the cache. */
export async function downloadCommand(session: Session, args: CommandArgs): Promise<number> {
  return withHostLock(session, async (ledger) => {
    const loaded = await loadCatalog(session, ledger, 'download from it');
    noteOffline(session, loaded);
    const scan = await scanHost(session, ledger, loaded.catalog);
    await observeStates(ledger, scan);
    const selected = selectIds(
      loaded.catalog,
      scan.evaluations,
      { ids: args.positionals, all: args.all, critical: args.critical },
      scan.host,
    );
    const plan = planInstall(loaded.catalog, scan.host, scan.known, selected);
    const results: ActionResult[] = [
      ...plan.skipped.map((s): ActionResult => ({ id: s.id, outcome: 'skipped', message: s.reason })),
      ...plan.blocked.map((b): ActionResult => ({
        id: b.id,
        outcome: 'failed',
        message: `blocked: ${b.reason}`,
      })),
      ...(await downloadPlanned(session, ledger, scan, plan.order)),
    ];
    await reportNow(session, ledger);
    printResults(session, results, wentOffline(loaded) ? { offline: true } : {});
    return exitCodeFor(results);
  });
}
