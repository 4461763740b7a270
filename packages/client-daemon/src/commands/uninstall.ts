import { ErrorCodes, PatchbayError, formatError } from '@patchbay/core';
import { uninstallOrdered, uninstallRefusal } from '../apply.js';
import type { ActionResult } from '../apply.js';
import { assertKnownIds } from '../planner.js';
import type { Session } from '../session.js';
import { finishActions, printResults, reportNow } from './common.js';
import type { CommandArgs } from './common.js';
import { rescanStates, withHostScan } from './scan-session.js';
import type { ScanOptions } from './scan-session.js';

/**
 * uninstall ID [--cascade]: refused, naming the dependants, while installed patches
 * require ID (unless --cascade: dependants first); refused for a patch without an
 * uninstaller. The detect rule must say "not installed" afterwards.
 */
export async function uninstallCommand(session: Session, args: CommandArgs): Promise<number> {
  if (args.positionals.length !== 1) {
    throw new PatchbayError(ErrorCodes.USAGE, 'uninstall takes exactly one patch id', {
      args: args.positionals,
    });
  }
  const id = args.positionals[0]!;
  const scanOptions: ScanOptions = {
    forAction: 'run an uninstaller from it',
    beforeScan: (loaded) => assertKnownIds(loaded.catalog, [id]),
  };
  return withHostScan(session, scanOptions, async ({ ledger, scan, offline }) => {
    const extra = offline ? { offline: true } : {};
    if (!scan.known.installed.has(id)) {
      const results: ActionResult[] = [{ id, outcome: 'skipped', message: `${id} is not installed` }];
      printResults(session, results, extra);
      return 0;
    }
    const refusal = uninstallRefusal(scan, id, args.cascade);
    if (refusal.reason !== undefined) {
      // recorded and reported like any other uninstall (outcome 'refused': the patch stayed)
      await ledger.recordOutcome(id, undefined, {
        type: 'uninstall',
        outcome: 'refused',
        message: refusal.reason,
      });
      session.logger.info({ patchId: id, reason: refusal.reason }, 'uninstall refused');
      await reportNow(session, ledger);
      session.out.stderrWrite(
        formatError('patchbay-client', refusal.reason, refusal.hint, session.out.errStyle),
      );
      printResults(session, [{ id, outcome: 'failed', message: refusal.reason }], extra);
      return 1;
    }
    const results = await uninstallOrdered(session, ledger, scan, refusal.order);
    await rescanStates(session, ledger, scan);
    return finishActions(session, ledger, results, offline);
  });
}
