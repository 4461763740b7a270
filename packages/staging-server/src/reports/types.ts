import type { ClientReport, EventType, PatchState, ReportEvent, ReportPatch } from '@patchbay/core';

/** One stored client event (CONTRACT §2 event fields plus the server's bookkeeping). */
export interface StoredEvent {
  /** extension: the branch the host reports through (tiered mirrors) */
  via?: string;
  /** stable id, also the paging cursor (`before`) */
  id: number;
  hostId: string;
  seq: number;
  type: EventType;
  patchId: string | null;
  at: string;
  outcome: string;
  message: string;
  receivedAt: string;
  /** the client instance (data dir) it came from; '' for clients that send none */
  instanceId: string;
  /** extension: the last lines of the installer's output, when the client sent them */
  output: string | null;
}

/** One client instance (data dir) a host id has reported from. */
export interface InstanceRow {
  instanceId: string;
  /** server time of its first report */
  firstSeenAt: string;
  lastSeenAt: string;
}

/** A host id reporting from an instance not seen before. */
export interface NewInstance {
  instanceId: string;
  /** the host's instances before this one (empty for a new host or one whose daemon sent none) */
  previous: string[];
  /** the host id had reported before (perhaps from a daemon without instance ids) */
  knownHost: boolean;
}

/** A resent event whose content differs from the one stored under the same key. */
export interface EventConflict {
  seq: number;
  instanceId: string;
  stored: {
    type: string;
    patchId: string | null;
    at: string;
    outcome: string;
    message: string;
    output: string | null;
  };
  sent: EventConflict['stored'];
}

/** Tiered mirrors: how a host's reports reached this server through branches (report rollup). */
export interface ReportOrigin {
  /** branch ids, nearest first: [the branch that delivered it, that branch's branch, …] */
  path: string[];
  /** the same branches' mirror key fingerprints */
  keys: string[];
}

/** The extension fields of a host reported through a branch (absent for a host that reports itself). */
export interface ViaFields {
  /** the branch this host reports through */
  via?: string;
  /** every branch on the way, nearest first (when more than one) */
  viaPath?: string[];
}

/** A host row as a rollup forwards it: the last report (without events) and its origin. */
export interface RollupClientRow {
  hostId: string;
  lastSeenAt: string;
  lastReport: Omit<ClientReport, 'events'>;
  origin: ReportOrigin | null;
}

/** A branch that rolls its hosts' reports up to this server. */
export interface BranchRow {
  branchId: string;
  mirror: string;
  lastRollupAt: string;
  hosts: number;
}

export interface ClientSummary extends ViaFields {
  hostId: string;
  hostname: string;
  platform: string;
  daemonVersion: string;
  lastSeenAt: string;
  products: { id: string; release: string }[];
  installed: number;
  missing: number;
  failed: number;
  pendingReboot: boolean;
}

/**
 * A reported patch as the client may send it (since and reason are optional; `cached`
 * is the extension newer clients send).
 */
export type StoredPatch = Omit<ReportPatch, 'since'> & { since?: string; reason?: string };

export interface ClientDetail extends Omit<ClientSummary, 'installed' | 'missing' | 'failed'> {
  reportedAt: string;
  lastReport: Omit<ClientReport, 'events'>;
  patches: StoredPatch[];
  /** newest first */
  events: StoredEvent[];
  /** the instance (client data dir) of the host's newest report, when its daemon sends one */
  instanceId?: string;
  /** every instance this host id reported from, newest first (more than one: re-imaged or shared id) */
  instances: InstanceRow[];
}

/** Hosts that share one profile (platform + products, as reported): what relevance depends on. */
export interface ProfileCount {
  platform: string;
  products: { id: string; release: string }[];
  /** `products` as the store holds them (JSON text): with platform, names the profile to hostViewPage */
  productsText: string;
  hosts: number;
}

/** Hosts' profiles and their reported states (patchId → hostId → state): what the compliance views build from. */
export interface FleetRead {
  hosts: readonly HostProfileRow[];
  states: ReadonlyMap<string, ReadonlyMap<string, PatchState>>;
}

/** A profile whose hosts the host view lists, and how many of its selected patches are relevant to it. */
export interface RelevantProfile {
  platform: string;
  /** ProfileCount.productsText */
  productsText: string;
  /** > 0 */
  relevant: number;
}

/** Sort keys the store orders the host view by (hostname's order is the locale's: not SQL's). */
export type CounterSort = 'behind' | 'failed' | 'hostId' | 'lastSeenAt';

export interface HostViewQuery {
  profiles: readonly RelevantProfile[];
  /** the profiles are every stored host's: a sort by hostId or lastSeenAt walks its index alone */
  everyHost: boolean;
  /**
   * behind: relevant − installed − superseded from the host's counters, ties by failed in
   * the same order; every key's ties by hostId ascending (views.ts sortHosts)
   */
  sort: CounterSort;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export interface HostProfileRow {
  hostId: string;
  /** as last reported (the hostId when the report had none); for the status page's host view */
  hostname: string;
  /** server time of the last report received */
  lastSeenAt: string;
  platform: string;
  products: { id: string; release: string }[];
  /** the host's last report said a reboot is pending */
  pendingReboot: boolean;
  /** the branch the host reports through; absent when it reports itself */
  via?: string;
}

/** Title, severity and release of a patch, from the catalogs the server has published. */
export interface PatchFacts {
  patchId: string;
  title: string;
  severity: string;
  product: string;
  release: string;
}

/** One host holding one patch in its local cache (a row of Patches Downloaded). */
export interface CachedPatchRow {
  patchId: string;
  hostId: string;
  hostname: string;
  state: PatchState;
  /**
   * what the client said (null: a daemon older than the `cached` extension). The row is
   * listed when this is true or the state is 'downloaded'.
   */
  cached: boolean | null;
  since: string | null;
}

export interface CachedPatchQuery {
  host?: string;
  patch?: string;
  /** only rows after this one in the report's order (patch, host): the next page */
  after?: { patchId: string; hostId: string };
  limit?: number;
}

export interface ClientPage {
  /** only hosts whose id sorts after this one (keyset paging) */
  after?: string;
  limit?: number;
}

export interface HistoryQuery {
  host?: string;
  patch?: string;
  type?: EventType;
  /** installs and uninstalls only (the Patches Installed history); ignored when `type` is set */
  installsOnly?: boolean;
  /** only patches of this severity / release, as recorded in patch_facts */
  severity?: string;
  release?: string;
  /** inclusive lower bound, ISO instant */
  since?: string;
  /** exclusive upper bound, ISO instant */
  until?: string;
  /** cursor: only events older than this event id (in (at, id) order) */
  before?: { at: string; id: number };
  limit: number;
}

export interface IngestResult {
  /** events newly stored; 0 for a resend */
  accepted: number;
  /** the newly stored events themselves (a resent event is not among them) */
  stored: ReportEvent[];
  /** false when the report is older than the snapshot already stored */
  snapshotReplaced: boolean;
  /** the report's instance, when this host id had not reported from it before */
  newInstance?: NewInstance;
  /** events not stored because another event holds their key with different content */
  conflicts: EventConflict[];
}

/** States that mean "the patch still has to reach this host". */
export const MISSING_STATES: readonly PatchState[] = ['available', 'downloaded', 'blocked', 'uninstalled'];
