// The timestamp is re-signed before half its life has passed, whether or not anything changed
// (docs/tuf-repository.md): hosts then always find a fresh timestamp, and a stolen one is stale
// within timestampExpiryHours. The snapshot too, past half its life, when no sync has published
// one (an upstream out of reach): the server keeps its own roles valid, the upstream's roles
// expire on their own. A timer on an injectable clock, so tests move time instead of sleeping.
import { errorMessage, type Logger } from '@patchbay/core';
import type { ServedRepository } from './served-repository.js';

/** Time and timers, injectable (tests pass a clock they advance by hand). */
export interface Clock {
  now(): Date;
  /** call `fn` after `ms` (it returns the work it started, for a test clock to await); must not keep the process alive on its own */
  setTimer(ms: number, fn: () => Promise<void>): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(ms, fn) {
    const timer = setTimeout(() => void fn(), ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Longest single wait: a clock that jumps (suspend, NTP) is noticed within this. */
const MAX_WAIT_MS = 15 * 60_000;
/** A failed refresh is tried again after this, not in a tight loop. */
const RETRY_MS = 60_000;

export class TimestampRefresher {
  private timer: { cancel(): void } | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly repository: ServedRepository,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** after each refresh written (replicas: the followers are told to reload) */
    private readonly onRefreshed: () => void = () => undefined,
  ) {}

  /** Refresh now when due, then keep the timer armed (call again after a publication: it re-arms). */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.refreshIfDue().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  private async refreshIfDue(): Promise<void> {
    let retry = false;
    const due = this.repository.refreshDue();
    const now = this.clock.now();
    if (due !== null && now.getTime() >= due.getTime()) {
      try {
        const versions = await this.repository.refresh(now);
        this.log.info(
          { ...versions, expires: this.repository.current()?.timestampExpires },
          'TUF timestamp re-signed',
        );
        if (versions) this.onRefreshed();
      } catch (err) {
        retry = true;
        this.log.error(
          { err: errorMessage(err) },
          're-signing the TUF timestamp failed; the served one stays',
        );
      }
    }
    this.arm(retry);
  }

  private arm(retry: boolean): void {
    if (this.stopped) return;
    this.timer?.cancel();
    const due = this.repository.refreshDue();
    const untilDue = due === null ? MAX_WAIT_MS : due.getTime() - this.clock.now().getTime();
    const wait = Math.max(0, Math.min(MAX_WAIT_MS, retry ? RETRY_MS : untilDue));
    this.timer = this.clock.setTimer(wait, () => this.check());
  }
}
