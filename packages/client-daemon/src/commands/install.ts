import { installPlanned } from '../apply.js';
import { pruneCache } from '../cache-prune.js';
import type { ActionResult, ApplyOptions } from '../apply.js';
import type { Ledger } from '../ledger.js';
import { planInstall, selectIds } from '../planner.js';
import type { Selection } from '../planner.js';
import type { HostScan } from '../scan.js';
import { assertInstallDirsExist } from '../install-dir.js';
import type { Session } from '../session.js';
import { finishActions } from './common.js';
import type { CommandArgs } from './common.js';
import { rescanStates, withHostScan } from './scan-session.js';

/**
 * Plan and install a selection: skipped and blocked patches become results (blocked
 * ones recorded as failed install events), the rest install in dependency order.
 */
export async function installSelection(
  session: Session,
  ledger: Ledger,
  scan: HostScan,
  selection: Selection,
  opts: ApplyOptions = {},
): Promise<ActionResult[]> {
  const selected = selectIds(scan.catalog, scan.evaluations, selection, scan.host);
  const plan = planInstall(scan.catalog, scan.host, scan.known, selected);
  assertInstallDirsExist(session.config, plan.order, session.configFile);
  const results: ActionResult[] = plan.skipped.map((s) => ({
    id: s.id,
    outcome: 'skipped',
    message: s.reason,
  }));
  for (const blocked of plan.blocked) {
    const message = `blocked: ${blocked.reason}`;
    await ledger.recordOutcome(
      blocked.id,
      undefined,
      { type: 'install', outcome: 'failed', message },
      'blocked',
    );
    results.push({ id: blocked.id, outcome: 'failed', message });
  }
  results.push(...(await installPlanned(session, ledger, plan.order, opts)));
  return results;
}

/** install [ID... | --all | --critical]: download as needed, install in dependency order, report. */
export async function installCommand(session: Session, args: CommandArgs): Promise<number> {
  return withHostScan(
    session,
    { forAction: 'install from it' },
    async ({ ledger, loaded, scan, offline }) => {
      const results = await installSelection(session, ledger, scan, {
        ids: args.positionals,
        all: args.all,
        critical: args.critical,
      });
      // the states after the installs, for the final report
      await rescanStates(session, ledger, scan);
      await pruneCache(session, ledger, loaded.catalog);
      return finishActions(session, ledger, results, offline);
    },
  );
}
