// patchbay_clients{state}: the fleet by state, each host in exactly one, the first that
// applies: stale (not heard from within reports.staleAfterHours, as /v1/status counts it),
// failed (a patch failed), behind (a patch still to install: the `missing` of /v1/clients),
// pending_reboot, else compliant. Counted in SQL by ReportStore.countClientStates.
import type { ReportStore } from '../reports/report-store.js';
import { CLIENT_STATES, type ClientState } from './server-metrics.js';

/** Recomputed at least this often, so that hosts turn stale without a report arriving. */
const MAX_AGE_MS = 60_000;
/** A recomputation waits this many times its own last cost: it takes at most ~5% of the time. */
const COST_FACTOR = 20;

/**
 * The counts, cached: recomputed at scrape only when a report arrived since (a new host,
 * a later lastSeenAt or a new event: three cheap aggregate queries tell) and the last
 * computation is at least COST_FACTOR times its own duration old. A small fleet is always
 * current; at 10,000 hosts two scrapers a few seconds apart share one computation.
 */
export class ClientStateCounts {
  private cached: { key: string; at: number; costMs: number; counts: Record<ClientState, number> } | null =
    null;
  /** The look under way: scrapes that arrive meanwhile share it rather than count again. */
  private looking: Promise<Record<ClientState, number>> | null = null;

  constructor(
    private readonly store: ReportStore,
    private readonly staleAfterHours: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<Record<ClientState, number>> {
    this.looking ??= this.look().finally(() => {
      this.looking = null;
    });
    return this.looking;
  }

  private async look(): Promise<Record<ClientState, number>> {
    const now = this.now();
    const { store } = this;
    const [clients, lastSeen, lastEventId] = await Promise.all([
      store.countClients(''),
      store.lastSeenMax(),
      store.lastEventId(),
    ]);
    const key = `${clients.total}|${lastSeen ?? ''}|${lastEventId}`;
    const cached = this.cached;
    if (cached !== null) {
      const age = now - cached.at;
      if (age < MAX_AGE_MS && (cached.key === key || age < cached.costMs * COST_FACTOR)) return cached.counts;
    }
    const started = performance.now();
    const byState = await store.countClientStates(
      new Date(now - this.staleAfterHours * 3_600_000).toISOString(),
    );
    const counts = Object.fromEntries(CLIENT_STATES.map((s) => [s, byState.get(s) ?? 0])) as Record<
      ClientState,
      number
    >;
    this.cached = { key, at: now, costMs: performance.now() - started, counts };
    return counts;
  }
}
