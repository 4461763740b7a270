import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '@patchbay/core';
import { applicable } from '../planner.js';
import { noteOffline, observeStates, scanHost, wentOffline } from '../scan.js';
import type { Session } from '../session.js';
import { installSelection } from './install.js';
import { reportNow, withHostLock } from './common.js';
import type { CommandArgs } from './common.js';

/**
 * One daemon cycle: check, install critical applicable patches when the policy says
 * so, report (which also delivers anything an earlier report left on disk).
 */
async function runCycle(session: Session, shouldStop: () => boolean): Promise<boolean> {
  return withHostLock(session, async (ledger) => {
    const loaded = await session.catalogSource.load();
    noteOffline(session, loaded);
    let scan = await scanHost(session, ledger, loaded.catalog);
    await observeStates(ledger, scan);
    const pool = applicable(scan.evaluations);
    ledger.addEvent({
      type: 'check',
      outcome: 'ok',
      message:
        `catalog ${loaded.catalog.sequence}: ${pool.length} applicable patch(es)` +
        (wentOffline(loaded) ? ' (staging server unreachable; cached catalog)' : ''),
    });
    await ledger.save();
    let ok = true;
    const critical = pool.filter((e) => e.patch.severity === 'critical');
    if (session.config.policy.autoInstall === 'critical' && critical.length > 0 && !shouldStop()) {
      const results = await installSelection(
        session,
        ledger,
        scan,
        { ids: [], all: false, critical: true },
        { shouldStop },
      );
      ok = !results.some((r) => r.outcome === 'failed');
      scan = await scanHost(session, ledger, loaded.catalog);
      await observeStates(ledger, scan);
    }
    await reportNow(session, ledger);
    return ok;
  });
}

/**
 * run: the daemon. Every schedule.intervalSeconds one cycle; SIGTERM/SIGINT stop it
 * after the current step (an install in flight always runs to its end). `--once`
 * runs a single cycle (for cron, systemd timers and tests).
 */
export async function runCommand(session: Session, args: CommandArgs): Promise<number> {
  const stopper = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    if (!stopper.signal.aborted) session.logger.info({ signal }, 'stopping after the current step');
    stopper.abort();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const shouldStop = (): boolean => stopper.signal.aborted;
  const intervalMs = (session.config.schedule.intervalSeconds ?? 300) * 1000;
  session.logger.info(
    { servers: session.config.server, intervalSeconds: session.config.schedule.intervalSeconds },
    'patchbay-client daemon started',
  );
  let exitCode = 0;
  try {
    while (!shouldStop()) {
      try {
        const ok = await runCycle(session, shouldStop);
        exitCode = ok ? 0 : 1;
      } catch (err) {
        exitCode = 1;
        session.logger.error(
          { err: errorMessage(err), code: (err as { code?: string }).code },
          'cycle failed',
        );
        if (args.once) throw err;
      }
      if (args.once) break;
      await sleep(intervalMs, undefined, { signal: stopper.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
  session.logger.info('patchbay-client daemon stopped');
  return args.once ? exitCode : 0;
}
