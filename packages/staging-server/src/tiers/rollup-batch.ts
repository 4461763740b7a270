// Which hosts and events the next rollup request carries. Events are walked by their
// store id (a cursor); each host with new events, or whose snapshot changed since the
// last delivery, goes with its last report. A batch stays under a byte budget, so a
// large fleet is forwarded in several requests, each acknowledged on its own.
import type { ReportEvent } from '@patchbay/core';
import type { RollupClientRow, StoredEvent } from '../reports/types.js';
import type { RollupCursor } from './rollup-cursor.js';
import { ROLLUP_MAX_HOSTS, type RollupHost } from './rollup-protocol.js';

/** What a batch is built from (ReportStore implements it). */
export interface RollupSource {
  rollupClients(): Promise<RollupClientRow[]>;
  eventsAfter(afterId: number, limit: number): Promise<StoredEvent[]>;
}

export interface BatchLimits {
  /** JSON bytes of the host entries, at most (one oversized host still goes alone) */
  maxBytes: number;
  /** events read per batch */
  maxEvents: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxBytes: 512 * 1024, maxEvents: 5000 };

export interface RollupBatch {
  hosts: RollupHost[];
  /** JSON bytes of the host entries */
  bytes: number;
  /** events read for this batch (some may belong to hosts that wait for the next one) */
  eventsRead: number;
  /** hosts passed over as unsendable (their snapshot is too large for the parent), with their events */
  passedOver: { hostId: string; events: number }[];
  /** the cursor once the parent has acknowledged this batch */
  next: RollupCursor;
}

function toReportEvent(event: StoredEvent): ReportEvent {
  const out: ReportEvent = {
    seq: event.seq,
    type: event.type,
    at: event.at,
    outcome: event.outcome as ReportEvent['outcome'],
    message: event.message,
    // the instance it came from, which need not be that of the host's last report
    instanceId: event.instanceId,
  };
  if (event.patchId !== null) out.patchId = event.patchId;
  if (event.output !== null) out.output = event.output;
  return out;
}

function toEntry(client: RollupClientRow, events: readonly StoredEvent[]): RollupHost {
  const entry: RollupHost = {
    report: { ...client.lastReport, events: events.map(toReportEvent) },
    lastSeenAt: client.lastSeenAt,
  };
  if (client.origin !== null) {
    entry.via = client.origin.path;
    entry.viaKeys = client.origin.keys;
  }
  return entry;
}

async function loadClients(source: RollupSource): Promise<Map<string, RollupClientRow>> {
  return new Map((await source.rollupClients()).map((c) => [c.hostId, c]));
}

/**
 * Clients are read once per rollup run (`clients`) and re-read when an event names a host
 * they lack (it reported after the read); events are read after that, so every event's
 * host is known. Null when nothing is pending.
 */
export class BatchBuilder {
  private constructor(
    private readonly source: RollupSource,
    private readonly limits: BatchLimits,
    private clients: Map<string, RollupClientRow>,
  ) {}

  /** A builder over `source`, its clients read now. */
  static async open(source: RollupSource, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Promise<BatchBuilder> {
    return new BatchBuilder(source, limits, await loadClients(source));
  }

  /**
   * The batch after `cursor`; `limits` narrower than the builder's when the parent said 413.
   * A host in `unsendable` (hostId -> lastSeenAt) still at that snapshot is passed over: the
   * cursor moves past it and its events as if sent, and the batch says so.
   */
  async next(
    cursor: RollupCursor,
    limits: BatchLimits = this.limits,
    unsendable: ReadonlyMap<string, string> = new Map(),
  ): Promise<RollupBatch | null> {
    const events = await this.source.eventsAfter(cursor.eventId, limits.maxEvents);
    if (events.some((e) => !this.clients.has(e.hostId))) this.clients = await loadClients(this.source);
    const byHost = new Map<string, StoredEvent[]>();
    for (const event of events) {
      const list = byHost.get(event.hostId);
      if (list) list.push(event);
      else byHost.set(event.hostId, [event]);
    }
    // Hosts with events first (so the event cursor moves), then changed snapshots.
    const candidates = [...byHost.keys()];
    for (const [hostId, client] of this.clients)
      if (!byHost.has(hostId) && cursor.hosts[hostId] !== client.lastSeenAt) candidates.push(hostId);

    const hosts: RollupHost[] = [];
    const included = new Set<string>();
    const passedOver: RollupBatch['passedOver'] = [];
    let bytes = 0;
    for (const hostId of candidates) {
      const client = this.clients.get(hostId);
      if (client === undefined) continue;
      if (unsendable.get(hostId) === client.lastSeenAt) {
        included.add(hostId);
        passedOver.push({ hostId, events: byHost.get(hostId)?.length ?? 0 });
        continue;
      }
      const entry = toEntry(client, byHost.get(hostId) ?? []);
      const size = Buffer.byteLength(JSON.stringify(entry));
      if (hosts.length > 0 && (bytes + size > limits.maxBytes || hosts.length >= ROLLUP_MAX_HOSTS)) break;
      hosts.push(entry);
      included.add(hostId);
      bytes += size;
    }

    // The event cursor moves over the leading events that go now (or whose host is unknown
    // even after a re-read, which the store never produces: they could not be sent anyway).
    let eventId = cursor.eventId;
    for (const event of events) {
      if (!included.has(event.hostId) && this.clients.has(event.hostId)) break;
      eventId = event.id;
    }
    if (hosts.length === 0 && passedOver.length === 0 && eventId === cursor.eventId) return null;
    const next: RollupCursor = { target: cursor.target, eventId, hosts: { ...cursor.hosts } };
    for (const hostId of included) next.hosts[hostId] = this.clients.get(hostId)!.lastSeenAt;
    return { hosts, bytes, eventsRead: events.length, passedOver, next };
  }
}
