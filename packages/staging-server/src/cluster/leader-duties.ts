// The work only the leader does (the mirror's writes, the schedules), started when this
// replica is elected and stopped at once when it loses the lock. Transitions run one at a
// time, each bringing the duties to what the lock says now, so an election that happens
// while the mirror is still opening, or a loss during a start, ends in the right state.
import { errorMessage, type Logger } from '@patchbay/core';
import type { Leadership } from './leadership.js';

export interface LeaderDuty {
  /** for the log */
  name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export class LeaderDuties {
  private readonly duties: LeaderDuty[] = [];
  private readonly unsubscribe: (() => void)[];
  private transitions: Promise<void> = Promise.resolve();
  private closed = false;

  /** `leading`: whether the duties already added run (the mirror opened as the writer). */
  constructor(
    private readonly leadership: Pick<Leadership, 'isLeader' | 'on'>,
    private readonly log: Logger,
    private leading: boolean,
  ) {
    const reconcile = (): void => void this.reconcile();
    this.unsubscribe = [leadership.on('elected', reconcile), leadership.on('lost', reconcile)];
    void this.reconcile();
  }

  /** Add a duty: started now when this replica leads, else at its election. */
  add(duty: LeaderDuty): Promise<void> {
    return this.queue(async () => {
      this.duties.push(duty);
      if (this.leading) await this.run(duty, 'start');
    });
  }

  /** Bring the duties to what the lock says now (after an event, or to check). */
  reconcile(): Promise<void> {
    return this.queue(async () => {
      const leader = this.leadership.isLeader();
      if (leader === this.leading) return;
      this.leading = leader;
      if (leader) for (const duty of this.duties) await this.run(duty, 'start');
      else for (const duty of [...this.duties].reverse()) await this.run(duty, 'stop');
    });
  }

  /** No more transitions; each duty is closed by its own plugin. */
  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribe) off();
    await this.transitions;
  }

  private queue(step: () => Promise<void>): Promise<void> {
    const run = this.transitions.then(() => (this.closed ? undefined : step()));
    this.transitions = run.catch(() => undefined);
    return this.transitions;
  }

  private async run(duty: LeaderDuty, what: 'start' | 'stop'): Promise<void> {
    try {
      await duty[what]();
      this.log.info({ duty: duty.name }, what === 'start' ? 'leader duty started' : 'leader duty stopped');
    } catch (err) {
      this.log.error({ duty: duty.name, err: errorMessage(err) }, `leader duty could not ${what}`);
    }
  }
}
