// The daemon's three scheduled steps (check, download, install). Each holds the
// data-dir lock, fetches the catalog (a server that answers also gets the queued
// reports), asks auto-policy.ts what it may do, does it, and reports.
import { downloadPlanned } from './apply.js';
import { automaticSelection, scheduledInstallGate, shouldRunRebootCommand } from './auto-policy.js';
import { pruneCache } from './cache-prune.js';
import { installSelection } from './commands/install.js';
import { reportNow } from './commands/common.js';
import { recordCheck, rescanStates, withHostScan } from './commands/scan-session.js';
import type { Ledger } from './ledger.js';
import { planInstall } from './planner.js';
import { runPreInstallCheck } from './pre-install-check.js';
import { runRebootCommand } from './reboot.js';
import type { HostScan } from './scan.js';
import type { Session } from './session.js';

export interface StepOptions {
  /** the daemon is stopping: no further patch starts (one in flight finishes) */
  shouldStop: () => boolean;
  /** clock for the maintenance windows (tests) */
  now?: () => Date;
}

/** Download the automatic selection and its requirements; true when nothing failed. */
async function downloadAutomatic(session: Session, ledger: Ledger, scan: HostScan): Promise<boolean> {
  const ids = automaticSelection(scan.evaluations, session.config.policy);
  if (ids.length === 0) return true;
  const plan = planInstall(scan.catalog, scan.host, scan.known, ids);
  const results = await downloadPlanned(session, ledger, scan, plan.order);
  await rescanStates(session, ledger, scan);
  return !results.some((r) => r.outcome === 'failed');
}

/** Check: fetch, scan, record a check event; with `download`, also the automatic download. Reports. */
export async function checkStep(session: Session, opts: { download: boolean }): Promise<boolean> {
  return withHostScan(session, {}, async (s) => {
    const { ledger, loaded, scan } = s;
    await recordCheck(s);
    // an expired catalog is shown and reported, never downloaded from (freeze protection)
    const ok =
      opts.download && !loaded.expired ? await downloadAutomatic(session, ledger, scan) : !loaded.expired;
    await pruneCache(session, ledger, loaded.catalog);
    await reportNow(session, ledger);
    return ok;
  });
}

/** Scheduled download: critical patches only (autoInstall "critical"); nothing with "none". */
export async function downloadStep(session: Session): Promise<boolean> {
  if (session.config.policy.autoInstall === 'none') return true;
  return withHostScan(session, { forAction: 'download from it' }, async ({ ledger, scan }) => {
    const ok = await downloadAutomatic(session, ledger, scan);
    await reportNow(session, ledger);
    return ok;
  });
}

/**
 * Scheduled install: critical patches only, only inside a maintenance window, only
 * after the pre-install check passed (else a "postponed" event says why). A
 * reboot-required install is followed by policy.rebootCommand only when
 * policy.reboot is "allowed". True when nothing failed.
 */
export async function installStep(session: Session, opts: StepOptions): Promise<boolean> {
  const { policy, schedule } = session.config;
  if (policy.autoInstall === 'none') return true;
  return withHostScan(session, { forAction: 'install from it' }, async ({ ledger, loaded, scan }) => {
    const ids = automaticSelection(scan.evaluations, policy);
    let ok = true;
    let postponed = false;
    const gate = scheduledInstallGate(policy, schedule.timezone, (opts.now ?? (() => new Date()))());
    if (ids.length === 0 || opts.shouldStop()) {
      session.logger.debug('scheduled install: nothing to install');
    } else if (!gate.open) {
      session.logger.info({ patchIds: ids, reason: gate.reason }, 'scheduled install not started');
    } else {
      const refusal = policy.preInstallCheck
        ? await runPreInstallCheck(policy.preInstallCheck, session.paths.logs)
        : '';
      if (refusal) {
        postponed = true;
        ledger.addEvent({
          type: 'install',
          outcome: 'postponed',
          message: `scheduled install of ${ids.join(', ')} postponed to the next run: ${refusal}`,
        });
        await ledger.save();
        session.logger.warn({ patchIds: ids, reason: refusal }, 'scheduled install postponed');
      } else {
        const results = await installSelection(
          session,
          ledger,
          scan,
          { ids, all: false, critical: false },
          { shouldStop: opts.shouldStop },
        );
        ok = !results.some((r) => r.outcome === 'failed');
        await rescanStates(session, ledger, scan);
      }
    }
    // a reboot, like an install, only inside a window and never against the pre-install check
    if (gate.open && !postponed && !opts.shouldStop() && shouldRunRebootCommand(policy, ledger.rebootFlag)) {
      await rebootHost(session, ledger);
    }
    await pruneCache(session, ledger, loaded.catalog);
    await reportNow(session, ledger);
    return ok;
  });
}

/** policy.rebootCommand, once per pending-reboot flag, recorded as an event. */
async function rebootHost(session: Session, ledger: Ledger): Promise<void> {
  const flag = ledger.rebootFlag;
  const argv = session.config.policy.rebootCommand;
  const failure = await runRebootCommand(argv, session.paths.logs, session.logger);
  ledger.noteRebootCommandRun();
  ledger.addEvent({
    type: 'install',
    outcome: failure ? 'failed' : 'reboot',
    message: failure || `reboot requested for ${flag?.patchIds.join(', ')}: ran ${JSON.stringify(argv)}`,
  });
  await ledger.save();
}
