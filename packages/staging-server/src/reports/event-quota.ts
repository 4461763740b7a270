// The per-host budget of new events per 24 hours (reports.hostEventsPerDay, issue 14).
// In memory, a fixed window per host from the first event it counts: a check costs a map
// lookup and touches no database. A restart forgets the windows, so a host may get one more
// window's budget after one; the per-host rate limit still bounds that.
import { HttpErrors } from '../http/errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;

interface Window {
  start: number;
  used: number;
}

export class EventQuota {
  private readonly windows = new Map<string, Window>();
  /** sweep expired windows when the map grows past this (hosts that went quiet) */
  private sweepAt = 1024;

  constructor(
    private readonly limit: number,
    private readonly now: () => Date,
    private readonly windowMs = DAY_MS,
  ) {}

  /**
   * Throws EVENT_QUOTA (429, Retry-After: when the window frees) when `incoming` more events
   * would take hostId past its budget. A host with nothing counted in its window may send one
   * report whatever its size (at most reports.maxEventsPerReport), so a low budget never
   * refuses a report for good.
   */
  check(hostId: string, incoming: number): void {
    const at = this.now().getTime();
    const window = this.live(hostId, at);
    if (window === undefined || window.used === 0 || window.used + incoming <= this.limit) return;
    throw HttpErrors.EVENT_QUOTA(
      hostId,
      this.limit,
      Math.max(1, Math.ceil((window.start + this.windowMs - at) / 1000)),
    );
  }

  /** Count `stored` events newly stored for hostId (resends of stored events are not counted). */
  record(hostId: string, stored: number): void {
    if (stored <= 0) return;
    const at = this.now().getTime();
    const window = this.live(hostId, at);
    if (window) window.used += stored;
    else this.windows.set(hostId, { start: at, used: stored });
    if (this.windows.size > this.sweepAt) this.sweep(at);
  }

  private live(hostId: string, at: number): Window | undefined {
    const window = this.windows.get(hostId);
    if (window === undefined) return undefined;
    if (this.expired(window, at)) {
      this.windows.delete(hostId);
      return undefined;
    }
    return window;
  }

  /** Past its end; or a clock set back (at < start) starts a fresh window, not a longer one. */
  private expired(window: Window, at: number): boolean {
    return at >= window.start + this.windowMs || at < window.start;
  }

  private sweep(at: number): void {
    for (const [hostId, window] of this.windows) if (this.expired(window, at)) this.windows.delete(hostId);
    this.sweepAt = Math.max(1024, this.windows.size * 2);
  }
}
