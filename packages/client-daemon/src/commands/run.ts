import { errorMessage } from '@patchbay/core';
import { DaemonScheduler } from '../daemon-scheduler.js';
import type { DaemonJob } from '../daemon-scheduler.js';
import { checkStep, downloadStep, installStep } from '../daemon-steps.js';
import { Ledger } from '../ledger.js';
import { flushReports } from '../reporter.js';
import type { Session } from '../session.js';
import { withHostLock } from './common.js';
import type { CommandArgs } from './common.js';

/** At stop, queued reports get this long to go out (then they wait on disk for the next start). */
const STOP_FLUSH_TIMEOUT_MS = 5000;

/** Exit codes after a second stop signal (128 + signal number, as a shell reports them). */
const FORCED_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export interface DaemonOptions {
  /** one check + download + install, ignoring the cron schedules (windows and policy still apply) */
  once: boolean;
  /** aborting it stops the daemon (SIGTERM/SIGINT in the CLI) */
  stop: AbortSignal;
  /** [0, 1) source for the jitter (tests) */
  random?: () => number;
  /** called once the jobs are scheduled (tests read scheduler.nextRuns()) */
  onStarted?: (scheduler: DaemonScheduler) => void;
}

/**
 * The daemon: schedule.check (or every schedule.intervalSeconds), schedule.download
 * and schedule.install as node-cron jobs in schedule.timezone, one step at a time.
 * With schedule.download null the check downloads by policy. Returns the exit code:
 * 0 after a clean stop; with `once`, 1 when a step failed.
 */
export async function runDaemon(session: Session, opts: DaemonOptions): Promise<number> {
  const { schedule, policy } = session.config;
  const shouldStop = (): boolean => opts.stop.aborted;
  const check = (): Promise<boolean> => checkStep(session, { download: schedule.download === null });
  const install = (): Promise<boolean> => installStep(session, { shouldStop });
  if (opts.once) {
    const checked = await check();
    const installed = shouldStop() ? true : await install();
    if (shouldStop()) await flushOnStop(session);
    return checked && installed ? 0 : 1;
  }
  const auto = policy.autoInstall === 'critical';
  const jobs: DaemonJob[] = [
    {
      name: 'check',
      cron: schedule.check,
      everySeconds: schedule.intervalSeconds,
      run: async () => void (await check()),
    },
    {
      name: 'download',
      cron: auto ? schedule.download : null,
      run: async () => void (await downloadStep(session)),
    },
    { name: 'install', cron: auto ? schedule.install : null, run: async () => void (await install()) },
  ];
  const scheduler = new DaemonScheduler({
    jobs,
    timezone: schedule.timezone,
    jitterSeconds: schedule.jitterSeconds,
    logger: session.logger,
    random: opts.random,
    // a check at start: the server hears from the host, and the outbox is flushed
    runAtStart: ['check'],
  });
  const stopped = new Promise<void>((resolve) => {
    if (opts.stop.aborted) resolve();
    opts.stop.addEventListener('abort', () => resolve(), { once: true });
  });
  scheduler.start();
  const next = scheduler.nextRuns();
  session.logger.info(
    {
      servers: session.config.server,
      intervalSeconds: schedule.intervalSeconds,
      timezone: schedule.timezone,
      nextCheckAt: next.check,
      nextDownloadAt: next.download,
      nextInstallAt: next.install,
      autoInstall: policy.autoInstall,
    },
    'patchbay-client daemon started',
  );
  opts.onStarted?.(scheduler);
  await stopped;
  session.logger.info('stopping: no new runs; a step in flight finishes first');
  await scheduler.stop();
  await flushOnStop(session);
  session.logger.info('patchbay-client daemon stopped');
  return 0;
}

/**
 * Last chance for queued events before exit: one quick flush when any are waiting. A server
 * that does not answer at once costs nothing: they stay on disk and go with the next report.
 */
async function flushOnStop(session: Session): Promise<void> {
  try {
    const ledger = await session.openLedger();
    if (ledger.pendingEvents(1).length === 0) return;
    await withHostLock(session, (locked) =>
      flushReports({
        config: session.config,
        ledger: locked,
        dispatcher: session.dispatcher,
        logger: session.logger,
        timeoutMs: Math.min(session.config.timeoutSeconds * 1000, STOP_FLUSH_TIMEOUT_MS),
        token: session.token,
        catalog: session.catalogSource.state,
      }),
    );
  } catch (err) {
    session.logger.warn({ err: errorMessage(err) }, 'queued reports not flushed at stop; kept on disk');
  }
}

/**
 * run: the daemon until SIGTERM/SIGINT: no new work, a download in flight aborted (its
 * partial kept for resume), an install in flight run to its end and recorded, queued reports
 * flushed when a server answers quickly, then exit 0. A second signal exits at once.
 * `--once` runs one cycle and exits with its outcome.
 */
export async function runCommand(session: Session, args: CommandArgs): Promise<number> {
  const stopper = new AbortController();
  session.stopSignal = stopper.signal;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopper.signal.aborted) {
      // the operator insists: leave now (a running installer, in its own process group,
      // goes on; the next start waits for it and lets its detect rule decide)
      session.logger.warn({ signal }, 'second stop signal: exiting at once');
      process.exit(FORCED_EXIT[signal] ?? 1);
    }
    session.logger.info(
      { signal },
      'stop requested: no new work; a download in flight is stopped (kept for resume), an install finishes',
    );
    stopper.abort();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    if (!args.once) return await runDaemon(session, { once: false, stop: stopper.signal });
    const before = await lastEventSeq(session);
    const code = await runDaemon(session, { once: true, stop: stopper.signal });
    await printCycle(session, before, code);
    return code;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/** The newest event's seq on disk now (read afresh: the steps take the lock themselves). */
async function lastEventSeq(session: Session): Promise<number> {
  const ledger = await Ledger.open(session.paths.ledger);
  return ledger.events.at(-1)?.seq ?? 0;
}

/** `run --once` says what its cycle did: the events it recorded (check, downloads, installs, …). */
async function printCycle(session: Session, before: number, code: number): Promise<void> {
  const ledger = await session.openLedger();
  const events = ledger.events.filter((e) => e.seq > before);
  session.out.document({ ok: code === 0, events });
  const shown = session.out.tableOr(
    ['SEQ', 'TYPE', 'PATCH', 'OUTCOME', 'MESSAGE'],
    events.map((e) => [String(e.seq), e.type, e.patchId ?? '-', e.outcome, e.message ?? '']),
    'run --once: nothing recorded',
  );
  if (!shown) return;
  const failed = events.filter((e) => e.outcome === 'failed').length;
  session.out.line(`run --once: ${events.length} event(s), ${failed} failed`);
}
