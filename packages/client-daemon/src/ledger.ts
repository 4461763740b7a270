import { randomUUID } from 'node:crypto';
import { ErrorCodes, PatchbayError, readJsonFile, writeFileAtomic } from '@patchbay/core';
import type { EventType, PatchState, ReportEvent } from '@patchbay/core';

/** What patchbay itself did to a patch on this host. */
export type LedgerState = 'installed' | 'failed' | 'uninstalled';

export interface LedgerPatch {
  state: LedgerState;
  since: string;
  message?: string;
}

/** Set while an install/uninstall command runs; left behind only by a crash. */
export interface PendingAction {
  action: 'install' | 'uninstall';
  startedAt: string;
  /** the command's pid (leader of its own process group): a crash leaves it running */
  pid?: number;
  /** when the command's own timeout ends: recovery waits for a survivor until then */
  deadline?: string;
}

/** The state last computed for a patch, so `since` stays put while the state does. */
export interface ObservedPatch {
  state: PatchState;
  since: string;
  reason?: string;
  /** every file of the patch is in the local verified cache */
  cached?: boolean;
}

/** Set when a reboot-required patch installed; cleared once the host has booted since. */
export interface RebootFlag {
  since: string;
  patchIds: string[];
  /** when patchbay ran policy.rebootCommand for this flag (it runs once) */
  commandRunAt?: string;
}

export interface LedgerData {
  format: 'patchbay-client-ledger/1';
  /**
   * Random id of this ledger, sent with every report. It lives with nextSeq on purpose: a
   * new data dir (or a deleted ledger) restarts seq at 1 and gets a new id with it, so the
   * server, keeping events per (hostId, instanceId, seq), never takes them for resends.
   */
  instanceId: string;
  patches: Record<string, LedgerPatch>;
  events: ReportEvent[];
  /** the seq the next event gets; never reused, even after old events are trimmed */
  nextSeq: number;
  /** highest seq a staging server has accepted */
  lastAckedSeq: number;
  observed: Record<string, ObservedPatch>;
  pending: Record<string, PendingAction>;
  reboot: RebootFlag | null;
}

export interface NewEvent {
  type: EventType;
  patchId?: string;
  outcome: string;
  message?: string;
  /** the installer's last output lines (a failed install/uninstall) */
  output?: string;
}

/** Events kept for `history` once acknowledged; unacknowledged ones are never dropped. */
const KEEP_ACKED_EVENTS = 5000;

function emptyLedger(): LedgerData {
  return {
    format: 'patchbay-client-ledger/1',
    instanceId: randomUUID(),
    patches: {},
    events: [],
    nextSeq: 1,
    lastAckedSeq: 0,
    observed: {},
    pending: {},
    reboot: null,
  };
}

/**
 * The client's crash-safe ledger (ledger.json, written atomically after every change):
 * per-patch install/uninstall/failure records, the event log with its monotonically
 * increasing seq, and lastAckedSeq. Events with seq > lastAckedSeq are the report
 * outbox: they stay here until a server accepts them.
 */
export class Ledger {
  /** saves run one after another, each writing the data as it is when its turn comes */
  private saving: Promise<void> = Promise.resolve();
  /** changed in memory since the last save began */
  private dirty = false;

  private constructor(
    readonly path: string,
    private data: LedgerData,
    /** the instance id is new: saved before any report names it */
    fresh = false,
    /** the clock of events' `at` and states' `since` (tests inject one) */
    private readonly now: () => Date = () => new Date(),
  ) {
    this.dirty = fresh;
  }

  static async open(path: string, opts: { now?: () => Date } = {}): Promise<Ledger> {
    const raw = await readJsonFile<Partial<LedgerData>>(path);
    if (raw === undefined) return new Ledger(path, emptyLedger(), true, opts.now);
    if (
      raw.format !== 'patchbay-client-ledger/1' ||
      !Array.isArray(raw.events) ||
      typeof raw.nextSeq !== 'number'
    ) {
      throw new PatchbayError(ErrorCodes.CONFIG, `${path} is not a patchbay client ledger`, { path });
    }
    // a ledger written before instance ids gets one now (the server then sees the host's first)
    const fresh = typeof raw.instanceId !== 'string';
    return new Ledger(path, { ...emptyLedger(), ...raw } as LedgerData, fresh, opts.now);
  }

  get instanceId(): string {
    return this.data.instanceId;
  }

  get patches(): Readonly<Record<string, LedgerPatch>> {
    return this.data.patches;
  }

  get events(): readonly ReportEvent[] {
    return this.data.events;
  }

  get lastAckedSeq(): number {
    return this.data.lastAckedSeq;
  }

  get observed(): Readonly<Record<string, ObservedPatch>> {
    return this.data.observed;
  }

  get pending(): Readonly<Record<string, Readonly<PendingAction>>> {
    return this.data.pending;
  }

  get rebootFlag(): Readonly<RebootFlag> | null {
    return this.data.reboot;
  }

  /** A reboot-required patch installed (saved with the outcome that follows). */
  flagReboot(patchId: string, at = new Date().toISOString()): void {
    const flag = this.data.reboot;
    if (flag) {
      if (!flag.patchIds.includes(patchId)) flag.patchIds.push(patchId);
      // a new reboot-required install after the reboot command ran needs another reboot
      delete flag.commandRunAt;
    } else {
      this.data.reboot = { since: at, patchIds: [patchId] };
    }
  }

  /** The host has rebooted since the flag was set (saved). */
  async clearReboot(): Promise<void> {
    this.data.reboot = null;
    await this.save();
  }

  /** policy.rebootCommand ran for the current flag (saved with its event). */
  noteRebootCommandRun(at = new Date().toISOString()): void {
    if (this.data.reboot) this.data.reboot.commandRunAt = at;
  }

  /** All of a patch's files are now in the verified cache (saved with the event that follows). */
  noteCached(patchId: string): void {
    const observed = this.data.observed[patchId];
    if (observed) observed.cached = true;
  }

  /** Events a server has not accepted yet, oldest first. */
  pendingEvents(limit = Infinity): ReportEvent[] {
    return this.data.events.filter((e) => e.seq > this.data.lastAckedSeq).slice(0, limit);
  }

  /** Append an event (does not save; call save() or use the helpers below). */
  addEvent(event: NewEvent, at = this.now().toISOString()): ReportEvent {
    const full: ReportEvent = { seq: this.data.nextSeq++, type: event.type, at, outcome: event.outcome };
    if (event.patchId !== undefined) full.patchId = event.patchId;
    full.message = event.message ?? '';
    if (event.output) full.output = event.output;
    this.data.events.push(full);
    this.dirty = true;
    return full;
  }

  /**
   * Record the outcome of an action on a patch together with its event, durably.
   * `observed` (default: the ledger state) updates the reported state at once, so
   * the report sent right after carries it.
   */
  async recordOutcome(
    patchId: string,
    state: LedgerState | undefined,
    event: NewEvent,
    observed: PatchState | undefined = state,
  ): Promise<ReportEvent> {
    const at = this.now().toISOString();
    if (state) {
      const record: LedgerPatch = { state, since: at };
      if (event.message) record.message = event.message;
      this.data.patches[patchId] = record;
    }
    delete this.data.pending[patchId];
    if (observed && this.data.observed[patchId]?.state !== observed) {
      this.data.observed[patchId] = { state: observed, since: at };
    }
    const saved = this.addEvent({ ...event, patchId }, at);
    await this.save();
    return saved;
  }

  /** Mark an action as started, durably, so a crash mid-way is found at the next start. */
  async markPending(patchId: string, action: 'install' | 'uninstall'): Promise<void> {
    this.data.pending[patchId] = { action, startedAt: new Date().toISOString() };
    await this.save();
  }

  /** The pending command started as `pid`, its timeout ending after `timeoutMs` (saved). */
  async notePendingProcess(patchId: string, pid: number, timeoutMs: number): Promise<void> {
    const pending = this.data.pending[patchId];
    if (!pending) return;
    pending.pid = pid;
    pending.deadline = new Date(Date.now() + timeoutMs).toISOString();
    await this.save();
  }

  /**
   * Actions left pending by a crash become failures with an error event; the detect
   * rule (when the patch has one) still decides whether the patch is installed.
   */
  async recoverInterrupted(): Promise<string[]> {
    const recovered = Object.entries(this.data.pending);
    for (const [id, pending] of recovered) {
      const message = `${pending.action} interrupted (patchbay-client stopped after ${pending.startedAt})`;
      if (pending.action === 'install')
        this.data.patches[id] = { state: 'failed', since: new Date().toISOString(), message };
      this.addEvent({ type: 'error', patchId: id, outcome: 'failed', message });
    }
    this.data.pending = {};
    if (recovered.length > 0) await this.save();
    return recovered.map(([id]) => id);
  }

  /** Remember computed states; `since` changes only when the state does. Returns true if anything changed. */
  observe(states: readonly { id: string; state: PatchState; reason?: string; cached?: boolean }[]): boolean {
    const now = this.now().toISOString();
    const next: Record<string, ObservedPatch> = {};
    let changed = Object.keys(this.data.observed).length !== states.length;
    for (const { id, state, reason, cached } of states) {
      const prev = this.data.observed[id];
      const since = prev && prev.state === state ? prev.since : now;
      const entry: ObservedPatch = { state, since };
      if (reason !== undefined) entry.reason = reason;
      if (cached !== undefined) entry.cached = cached;
      if (!prev || prev.state !== state || prev.reason !== reason || prev.cached !== cached) changed = true;
      next[id] = entry;
    }
    this.data.observed = next;
    return changed;
  }

  /** A server accepted every event up to `seq`. */
  async acknowledge(seq: number): Promise<void> {
    if (seq <= this.data.lastAckedSeq) return;
    this.data.lastAckedSeq = seq;
    this.trim();
    await this.save();
  }

  async save(): Promise<void> {
    const turn = this.saving.then(async () => {
      // serialised at its turn: a later save never loses to an earlier one finishing last
      this.dirty = false;
      try {
        await writeFileAtomic(this.path, JSON.stringify(this.data, null, 2) + '\n');
      } catch (err) {
        this.dirty = true;
        throw err;
      }
    });
    this.saving = turn.catch(() => undefined);
    await turn;
  }

  /**
   * Save events still only in memory. Called before a report goes out: an event a server
   * holds must be on disk, or its seq could be handed to another event after a crash (and
   * the server, keeping each (hostId, seq) once, would drop that one).
   */
  async saveIfDirty(): Promise<void> {
    if (this.dirty) await this.save();
  }

  private trim(): void {
    const acked = this.data.events.filter((e) => e.seq <= this.data.lastAckedSeq).length;
    const excess = acked - KEEP_ACKED_EVENTS;
    if (excess > 0) this.data.events.splice(0, excess);
  }
}
