// What callers ask of the reports database, grouped by job: the interface every store
// implements (sqlite/ today; PostgreSQL next, issue 16). Kept apart from report-store.ts,
// which opens one, so an implementation imports its interface without importing its opener.
// Every method answers with a promise: a network database cannot answer at once, and
// SQLite's synchronous answers fit the same shape.
import type { ClientReport, FeedPatch, PatchState } from '@patchbay/core';
import type {
  BranchRow,
  CachedPatchQuery,
  CachedPatchRow,
  ClientDetail,
  ClientPage,
  ClientSummary,
  FleetRead,
  HistoryQuery,
  HostProfileRow,
  HostViewQuery,
  IngestResult,
  PatchFacts,
  ProfileCount,
  ReportOrigin,
  RollupClientRow,
  StoredEvent,
} from './types.js';

export interface ReportStoreOptions {
  /**
   * reports.maxClockSkewSeconds (default 300): a stored reportedAt later than its own
   * arrival plus this came from a wrong clock and never holds the snapshot against a newer report
   */
  maxClockSkewSeconds?: number;
}

/** Client reports in: each stored whole or not at all, its events once per key. */
export interface ReportIngest {
  /**
   * Changes whenever a report may have changed hosts or their patch states (every ingest,
   * whatever its outcome), so a reader may keep what it derived from them until it moves.
   */
  revision(): Promise<number>;
  /**
   * Store a validated, normalised report in one transaction: the snapshot and last report
   * are replaced, events are added once per (hostId, instanceId, seq). All or nothing;
   * resolves once committed.
   */
  ingest(report: ClientReport, receivedAt?: string, origin?: ReportOrigin | null): Promise<IngestResult>;
  /**
   * ingest(), with the commit shared with the reports that arrive at the same time; each
   * fails alone. Resolves once its commit is done (as ingest() does), so an answer never claims a report the
   * database does not hold.
   */
  ingestSoon(report: ClientReport, origin?: ReportOrigin | null): Promise<IngestResult>;
  /** Many reports in one transaction (bulk loads, the benchmarks); resolves to the events accepted. */
  ingestMany(reports: readonly ClientReport[], receivedAt?: string): Promise<number>;
}

/** One host entry of a branch's rollup as stored: its report, the branches it came through, when its branch heard from it. */
export interface RollupHostWrite {
  report: ClientReport;
  origin: ReportOrigin;
  receivedAt: string;
}

/**
 * A rollup's hosts and the rule that picks those stored. The store reads the hosts' origins
 * inside its transaction (on PostgreSQL their rows locked), so no report can change an
 * origin between the check and the write.
 */
export interface RollupAdmission {
  hostIds: readonly string[];
  /**
   * hostId → via of the hosts already known (null: it reports itself; absent: never heard of)
   * → the entries to store. Called once per attempt: a retried transaction calls it again.
   */
  admit(origins: ReadonlyMap<string, string | null>): readonly RollupHostWrite[];
}

/** Tiered mirrors: the reports a branch rolls up to this server, and what this one forwards. */
export interface RollupRecords {
  /**
   * The entries `hosts.admit` picks, in one transaction (all or nothing), each host marked
   * with the branches it came through; the branch is recorded too. Results in admit's order.
   */
  ingestRollup(
    branch: { branchId: string; mirror: string },
    hosts: RollupAdmission,
    receivedAt?: string,
  ): Promise<IngestResult[]>;
  /**
   * hostId → via of those of hostIds already heard of (null: the host reports itself; else the
   * branch it reports through), in one query.
   */
  originsOf(hostIds: readonly string[]): Promise<Map<string, string | null>>;
  /** Every host with its last report and origin, by hostId (what a rollup forwards). */
  rollupClients(): Promise<RollupClientRow[]>;
  /** Events stored after event id `afterId`, oldest first (the rollup's cursor walk). */
  eventsAfter(afterId: number, limit: number): Promise<StoredEvent[]>;
  /** The branches that roll up to this server, by id. */
  branches(): Promise<BranchRow[]>;
}

/** The fleet as the admin views read it: hosts, their patch states, the patches' facts. */
export interface FleetQueries {
  /** Client summaries by hostId: all of them, or one page (`after` a hostId, `limit` rows). */
  listClients(page?: ClientPage): Promise<ClientSummary[]>;
  getClient(hostId: string): Promise<ClientDetail | null>;
  hostProfiles(): Promise<HostProfileRow[]>;
  /** patchId → (hostId → reported state), for the whole fleet in one query. */
  allStates(): Promise<Map<string, Map<string, PatchState>>>;
  /** hostId → hostname for the given hosts (those never heard from are absent). */
  hostnames(hostIds: Iterable<string>): Promise<Map<string, string>>;
  /**
   * Remember title, severity and release of each catalog patch (the facts the report
   * filters use). Rows of patches that left the catalog stay, so their history keeps its
   * severity.
   */
  recordPatchFacts(patches: readonly FeedPatch[]): Promise<void>;
  /** patchId → facts of every patch recorded by recordPatchFacts. */
  patchFacts(): Promise<Map<string, PatchFacts>>;
}

/** What the whole-fleet exports read a part at a time, so that no read holds the fleet × patches. */
export interface FleetExports {
  /** Hosts' profiles by hostId, a page at a time (`after` a hostId, `limit` hosts): hostProfiles() in parts. */
  hostProfilesPage(page: Required<ClientPage>): Promise<HostProfileRow[]>;
  /** hostId → state of every host that reported on `patchId` (one patch of allStates), in one read. */
  patchStates(patchId: string): Promise<Map<string, PatchState>>;
  /**
   * Patches held in hosts' local caches: rows the client marked `cached: true`, and
   * every row in state 'downloaded' (older clients do not send `cached`). By patch, host;
   * a page of them with `after` and `limit` (keyset: rows added meanwhile may appear, none twice).
   */
  cachedPatches(query?: CachedPatchQuery): Promise<CachedPatchRow[]>;
}

/** The status page's host view, served a page at a time from counters kept at ingest. */
export interface HostView {
  /**
   * One page of the hosts of the given profiles, ordered in SQL from the counters each host's
   * row keeps (per state class, at ingest): those hosts' profiles in page order and their
   * reported states, what buildHostMatrix takes. Only the page's states are read.
   */
  hostViewPage(query: HostViewQuery): Promise<FleetRead>;
}

/** The counts /v1/status and /metrics show, and what tells them that anything changed. */
export interface FleetCounts {
  /** Clients in total, and those not heard from since `staleBefore` (ISO instant). */
  countClients(staleBefore: string): Promise<{ total: number; stale: number }>;
  /**
   * Hosts per state, each in the first that applies: stale (last seen before `staleBefore`),
   * failed (a patch failed), behind (a patch in MISSING_STATES), pending_reboot, compliant.
   * States without hosts are absent.
   */
  countClientStates(staleBefore: string): Promise<Map<string, number>>;
  /**
   * patchId → (state → hosts that reported it), from counters kept in every ingest's
   * transaction: the fleet's counts without reading every state. States without hosts are absent.
   */
  patchStateCounts(): Promise<Map<string, Map<PatchState, number>>>;
  /** Hosts per profile, in one GROUP BY (hosts with the same products in another order may come apart). */
  profileCounts(): Promise<ProfileCount[]>;
  /** patchId → hosts with it installed whose last report says a reboot is pending (absent: none). */
  pendingRebootInstalls(): Promise<Map<string, number>>;
  /** The highest event id stored (0 when none). */
  lastEventId(): Promise<number>;
  /** The latest lastSeenAt of any host (null when none): with lastEventId, tells whether anything changed. */
  lastSeenMax(): Promise<string | null>;
}

/** The event history: filtered, newest first, paged; and its retention. */
export interface EventHistory {
  /** Events matching the filters, newest first. */
  history(query: HistoryQuery): Promise<StoredEvent[]>;
  /** The (at, id) position of an event, for a `before` cursor; null when no such event. */
  eventCursor(id: number): Promise<{ at: string; id: number } | null>;
  /**
   * Delete events with `at` before `cutoff` (ISO instant), at most `batchSize` per
   * transaction so that ingest is never kept waiting long. Resolves to how many went.
   */
  deleteEventsBefore(cutoff: string, batchSize: number): Promise<number>;
}

export interface ReportStore
  extends ReportIngest, RollupRecords, FleetQueries, FleetExports, HostView, FleetCounts, EventHistory {
  /** Store the reports still waiting for a shared commit, then close; resolves when closed. */
  close(): Promise<void>;
}
