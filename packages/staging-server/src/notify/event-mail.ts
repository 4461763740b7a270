// Mail of client events with replicas (docs/scale.md "Mail"): a report may arrive at any
// replica, so the ingest route mails nothing there; the leader reads the stored events back
// in id order (the report store's eventsAfter, the rollup's own walk) and mails the
// installed/failed ones, its cursor persisted with the mail outbox (notifier.ts). Every
// event is mailed once: by one replica, and not again after a restart or a takeover.
import { errorMessage, type Catalog, type Logger, type ReportEvent } from '@patchbay/core';
import type { StoredEvent } from '../reports/types.js';
import type { Clock } from '../tuf/timestamp-refresh.js';
import { isNotifiableEvent } from './events.js';
import type { Notifier } from './notifier.js';

/** What the mail reads of the report store (sync today, a promise from the PostgreSQL store). */
export interface StoredEventSource {
  eventsAfter(afterId: number, limit: number): StoredEvent[] | Promise<StoredEvent[]>;
  lastEventId(): number | Promise<number>;
  hostnames(hostIds: Iterable<string>): Map<string, string> | Promise<Map<string, string>>;
}

export interface StoredEventMailOptions {
  source: StoredEventSource;
  notifier: Required<Pick<Notifier, 'onStoredEvents' | 'eventCursor'>>;
  /** titles of the patches (the served catalog) */
  catalog: () => Catalog | null;
  /** how often the store is read (cluster.leaderRetrySeconds) */
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  /** events read per round trip */
  batchSize?: number;
}

export class StoredEventMail {
  private timer: { cancel(): void } | null = null;
  private pass: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: StoredEventMailOptions) {}

  start(): Promise<void> {
    this.stopped = false;
    return this.tick();
  }

  /** Mail what is stored now (tests; the timer calls it too). */
  mailNow(): Promise<void> {
    this.pass ??= this.mailStored().finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.pass;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.mailNow();
    } catch (err) {
      this.options.logger.error(
        { err: errorMessage(err) },
        'reading stored events to mail failed; will retry',
      );
    }
    if (!this.stopped) this.timer = this.options.clock.setTimer(this.options.intervalMs, () => this.tick());
  }

  private async mailStored(): Promise<void> {
    const { source, notifier } = this.options;
    // The first leader ever starts at the newest event: history from before is not news.
    let cursor = notifier.eventCursor() ?? (await source.lastEventId());
    if (notifier.eventCursor() === null) notifier.onStoredEvents([], null, cursor);
    const limit = this.options.batchSize ?? 500;
    while (!this.stopped) {
      const events = await source.eventsAfter(cursor, limit);
      if (events.length === 0) return;
      cursor = events.at(-1)!.id;
      const byHost = groupByHost(events.map((e) => [e.hostId, asReportEvent(e)] as const));
      const names = await source.hostnames(byHost.keys());
      const reports = [...byHost].map(([hostId, hostEvents]) => ({
        host: { hostId, hostname: names.get(hostId) ?? hostId },
        events: hostEvents,
      }));
      notifier.onStoredEvents(reports, this.options.catalog(), cursor);
      if (events.length < limit) return;
    }
  }
}

function asReportEvent(event: StoredEvent): ReportEvent {
  return {
    seq: event.seq,
    type: event.type,
    ...(event.patchId === null ? {} : { patchId: event.patchId }),
    at: event.at,
    outcome: event.outcome,
    message: event.message,
    ...(event.output === null ? {} : { output: event.output }),
  };
}

function groupByHost(events: readonly (readonly [string, ReportEvent])[]): Map<string, ReportEvent[]> {
  const byHost = new Map<string, ReportEvent[]>();
  for (const [hostId, event] of events) {
    if (!isNotifiableEvent(event)) continue;
    const list = byHost.get(hostId) ?? [];
    list.push(event);
    byHost.set(hostId, list);
  }
  return byHost;
}
