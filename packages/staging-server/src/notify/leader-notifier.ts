// The notifier of a replica (database.url): the mail outbox lives in the shared data
// directory, so only the leader holds it. Elected, the replica restores the outbox (what the
// previous leader left queued), mails sync news and, from the stored events, what hosts
// reported to any replica (event-mail.ts); losing the lock, it persists the outbox and stops.
// A report arriving here is never mailed by the route (onReport does nothing): the leader
// reads it back from the store, once.
import type { Catalog, FeedPatch, Logger, NotifyConfig } from '@patchbay/core';
import type { LeaderDuty } from '../cluster/leader-duties.js';
import type { SyncReport } from '../mirror.js';
import type { Clock } from '../tuf/timestamp-refresh.js';
import { StoredEventMail, type StoredEventSource } from './event-mail.js';
import { createNotifier, disabledNotifier, type Notifier, type NotifierOptions } from './notifier.js';
import type { NotifyStatus } from './types.js';

export interface LeaderNotifierOptions {
  notifier: NotifierOptions;
  events: StoredEventSource;
  /** the served catalog, for patch titles (the mirror opens after the notifier) */
  catalog: () => Catalog | null;
  intervalMs: number;
  clock: Clock;
}

export class LeaderNotifier implements Notifier {
  readonly enabled: boolean;
  readonly duty: LeaderDuty;
  private active: Notifier | null = null;
  private mail: StoredEventMail | null = null;

  constructor(
    private readonly config: NotifyConfig | undefined,
    private readonly logger: Logger,
    private readonly options: LeaderNotifierOptions,
  ) {
    this.enabled = config !== undefined;
    this.duty = { name: 'mail', start: () => this.lead(), stop: () => this.follow() };
  }

  onSyncFinished(report: SyncReport, newPatches: readonly FeedPatch[], catalogSequence: number): void {
    this.active?.onSyncFinished(report, newPatches, catalogSequence);
  }

  /** Nothing: the leader mails this report's events from the store. */
  onReport(): void {}

  status(): NotifyStatus {
    return this.active?.status() ?? { ...disabledNotifier.status(), enabled: this.enabled };
  }

  async flush(): Promise<void> {
    await this.mail?.mailNow();
    await this.active?.flush();
  }

  close(): Promise<void> {
    return this.follow();
  }

  private async lead(): Promise<void> {
    if (this.active) return;
    const active = await createNotifier(this.config, this.logger, this.options.notifier);
    this.active = active;
    if (!active.onStoredEvents || !active.eventCursor) return;
    const notifier = {
      onStoredEvents: active.onStoredEvents.bind(active),
      eventCursor: active.eventCursor.bind(active),
    };
    this.mail = new StoredEventMail({
      source: this.options.events,
      notifier,
      catalog: this.options.catalog,
      intervalMs: this.options.intervalMs,
      clock: this.options.clock,
      logger: this.logger.child({ component: 'notify' }),
    });
    await this.mail.start();
  }

  private async follow(): Promise<void> {
    const mail = this.mail;
    const active = this.active;
    this.mail = null;
    this.active = null;
    await mail?.stop();
    await active?.close();
  }
}

/** The duty of a notifier that only the leader may run, if it is one. */
export function leaderDutyOf(notifier: Notifier): LeaderDuty | undefined {
  return notifier instanceof LeaderNotifier ? notifier.duty : undefined;
}
