import { downloadPlanned } from '../apply.js';
import type { ActionResult } from '../apply.js';
import { planInstall, selectIds } from '../planner.js';
import type { Session } from '../session.js';
import { finishActions } from './common.js';
import type { CommandArgs } from './common.js';
import { withHostScan } from './scan-session.js';

/** download [ID... | --all | --critical]: the selection and its requirements into the cache. */
export async function downloadCommand(session: Session, args: CommandArgs): Promise<number> {
  return withHostScan(
    session,
    { forAction: 'download from it' },
    async ({ ledger, loaded, scan, offline }) => {
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
      return finishActions(session, ledger, results, offline);
    },
  );
}
