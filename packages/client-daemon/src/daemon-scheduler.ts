import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import { errorMessage } from '@patchbay/core';
import type { Logger } from '@patchbay/core';
import { jitterDelayMs, waitUnlessAborted } from './jitter.js';
import { SerialQueue } from './serial-queue.js';

export type JobName = 'check' | 'download' | 'install';

export interface DaemonJob {
  name: JobName;
  /** cron expression (5 or 6 fields); null = not scheduled */
  cron: string | null;
  /** when set, replaces `cron`: run at start, then every N seconds after the previous run ended */
  everySeconds?: number | null;
  run: () => Promise<void>;
}

export interface SchedulerOptions {
  jobs: readonly DaemonJob[];
  /** IANA zone of the cron expressions; null = local time */
  timezone: string | null;
  jitterSeconds: number;
  logger: Logger;
  /** [0, 1) source for the jitter (tests inject one) */
  random?: () => number;
  /** jobs triggered once right after start (through jitter and the queue) */
  runAtStart?: readonly JobName[];
  /** the clock of jitter and interval waits: resolves true after `ms`, false at once on abort (tests inject one) */
  wait?: (ms: number, signal: AbortSignal) => Promise<boolean>;
}

/**
 * The daemon's clock: node-cron jobs (noOverlap) plus an optional fixed interval,
 * each run waiting a random jitter first, all runs going through one SerialQueue so
 * that check, download and install never change the host at the same time. A job
 * still waiting or running is not triggered again.
 */
export class DaemonScheduler {
  private readonly queue = new SerialQueue();
  private readonly stopper = new AbortController();
  private readonly triggered = new Set<JobName>();
  private readonly tasks = new Map<JobName, ScheduledTask>();
  private readonly loops: Promise<void>[] = [];
  private readonly wait: (ms: number, signal: AbortSignal) => Promise<boolean>;
  private startRuns: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SchedulerOptions) {
    this.wait = opts.wait ?? waitUnlessAborted;
  }

  get stopping(): boolean {
    return this.stopper.signal.aborted;
  }

  start(): void {
    const { logger } = this.opts;
    const cronLogger = {
      info: (m: string) => logger.debug({ source: 'node-cron' }, m),
      warn: (m: string) => logger.warn({ source: 'node-cron' }, m),
      error: (m: string | Error) => logger.error({ source: 'node-cron', err: errorMessage(m) }, 'cron error'),
      debug: (m: string | Error) => logger.debug({ source: 'node-cron' }, errorMessage(m)),
    };
    for (const job of this.opts.jobs) {
      if (job.everySeconds) {
        this.loops.push(this.intervalLoop(job, job.everySeconds));
      } else if (job.cron) {
        const task = cron.schedule(job.cron, () => this.trigger(job), {
          name: `patchbay-${job.name}`,
          noOverlap: true,
          logger: cronLogger,
          ...(this.opts.timezone ? { timezone: this.opts.timezone } : {}),
        });
        this.tasks.set(job.name, task);
      }
    }
    const atStart: Promise<boolean>[] = [];
    for (const name of this.opts.runAtStart ?? []) {
      const job = this.opts.jobs.find((j) => j.name === name);
      if (job && !job.everySeconds) atStart.push(this.trigger(job));
    }
    this.startRuns = Promise.all(atStart);
  }

  /** Resolves when the runs triggered at start (runAtStart) have ended or were skipped. */
  async startRunsSettled(): Promise<void> {
    await this.startRuns;
  }

  /** Trigger `name` now, as its cron would (jitter, queue, no overlap); false when skipped or unknown. */
  runNow(name: JobName): Promise<boolean> {
    const job = this.opts.jobs.find((j) => j.name === name);
    return job ? this.trigger(job) : Promise.resolve(false);
  }

  /** The next cron fire time of each scheduled job (interval jobs: null). */
  nextRuns(): Record<JobName, Date | null> {
    const next = (name: JobName): Date | null => this.tasks.get(name)?.getNextRun() ?? null;
    return { check: next('check'), download: next('download'), install: next('install') };
  }

  /**
   * One run of `job`: jitter, then the queue. Never rejects (a failed run is
   * logged; the next one comes on schedule). Resolves false when skipped.
   */
  async trigger(job: DaemonJob): Promise<boolean> {
    const { logger } = this.opts;
    if (this.stopping) return false;
    if (this.triggered.has(job.name)) {
      logger.warn({ job: job.name }, 'previous run still waiting or running; this run is skipped');
      return false;
    }
    this.triggered.add(job.name);
    try {
      const delay = jitterDelayMs(this.opts.jitterSeconds, this.opts.random);
      if (delay > 0) logger.debug({ job: job.name, delayMs: delay }, 'jitter before the scheduled run');
      if (!(await this.wait(delay, this.stopper.signal))) return false;
      const res = await this.queue.run(job.name, async () => {
        if (this.stopping) return false;
        logger.info({ job: job.name }, 'scheduled run');
        await job.run();
        return true;
      });
      return !res.skipped && res.value;
    } catch (err) {
      logger.error(
        { job: job.name, err: errorMessage(err), code: (err as { code?: string }).code },
        'scheduled run failed',
      );
      return false;
    } finally {
      this.triggered.delete(job.name);
    }
  }

  private async intervalLoop(job: DaemonJob, seconds: number): Promise<void> {
    while (!this.stopping) {
      await this.trigger(job);
      await this.wait(seconds * 1000, this.stopper.signal);
    }
  }

  /**
   * Stop: no new runs, jitter waits end, queued runs that have not started are
   * dropped, and the run in flight (an install included) finishes first.
   */
  async stop(): Promise<void> {
    this.stopper.abort();
    for (const task of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    await Promise.all(this.loops);
    await this.queue.idle();
  }
}
