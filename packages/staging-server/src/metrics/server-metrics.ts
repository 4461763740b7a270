// The staging server's Prometheus metrics (docs/metrics.md), declared in one place.
// Each app has its own registry (tests build several apps in one process). The process
// metrics (CPU, memory, event loop, GC) live in one registry per process instead:
// prom-client's collectors start a GC observer and an event-loop monitor per call that
// nothing ever stops, and they describe the process, not an app.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SERVER_VERSION } from '../http/version.js';

/** patchbay_syncs_total{outcome}: the mirror's outcome, with an ok sync that published nothing as unchanged. */
export const SYNC_OUTCOMES = ['ok', 'unchanged', 'partial', 'failed'] as const;
export type SyncOutcome = (typeof SYNC_OUTCOMES)[number];

/** patchbay_clients{state}: every host in exactly one state (fleet-states.ts). */
export const CLIENT_STATES = ['compliant', 'behind', 'failed', 'pending_reboot', 'stale'] as const;
export type ClientState = (typeof CLIENT_STATES)[number];

/** patchbay_reports_rejected_total{reason}: the refusal's HTTP status in words (a fixed set). */
export const REJECT_REASONS = [
  'invalid',
  'unauthorized',
  'forbidden',
  'too_large',
  'unsupported_media_type',
  'rate_limited',
  'server_error',
  'other',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** patchbay_served_bytes_total{kind} */
export const SERVED_KINDS = ['blob', 'catalog'] as const;
export type ServedKind = (typeof SERVED_KINDS)[number];

// Syncs take from a second (304) to hours (a first mirror over a slow link).
const SYNC_BUCKETS = [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200];
// Catalog and status answers take milliseconds; a big blob over a slow LAN, minutes.
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface ServerMetrics {
  readonly registry: Registry;
  /** what the gauges are set from at scrape besides the mirror: ms since the epoch, 0 = none known */
  readonly syncState: { lastSuccessAt: number };
  // syncs (counted by sync-metrics.ts as each one ends)
  readonly syncs: Counter<'outcome'>;
  readonly syncDuration: Histogram<'outcome'>;
  readonly syncFetchedBytes: Counter;
  readonly syncFetchedFiles: Counter;
  // set at scrape (scrape-gauges.ts)
  readonly syncRunning: Gauge;
  readonly clusterLeader: Gauge;
  readonly syncLastSuccess: Gauge;
  readonly syncHeldBack: Gauge;
  readonly catalogSequence: Gauge;
  readonly catalogUpstreamSequence: Gauge;
  readonly catalogPatches: Gauge;
  readonly catalogPublished: Gauge;
  readonly catalogExpiry: Gauge;
  readonly storeBlobs: Gauge;
  readonly storeBytes: Gauge;
  readonly storeReclaimableBytes: Gauge;
  readonly clients: Gauge<'state'>;
  // HTTP (http-metrics.ts)
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly servedBytes: Counter<'kind'>;
  readonly httpAborted: Counter<'method' | 'route'>;
  readonly reportsAccepted: Counter;
  readonly reportEventsStored: Counter;
  readonly reportEventsDuplicate: Counter;
  readonly reportEventsConflicting: Counter;
  readonly reportsRejected: Counter<'reason'>;
}

export function createServerMetrics(version: string = SERVER_VERSION): ServerMetrics {
  processMetrics(); // started with the first app: GC and event-loop figures from the start
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers });

  const buildInfo = gauge('patchbay_build_info', 'The running patchbay-server version (value 1).', [
    'version',
  ]);
  buildInfo.set({ version }, 1);

  const metrics: ServerMetrics = {
    registry,
    syncState: { lastSuccessAt: 0 },
    syncs: counter('patchbay_syncs_total', 'Syncs finished, by outcome.', ['outcome']),
    syncDuration: new Histogram({
      name: 'patchbay_sync_duration_seconds',
      help: 'How long finished syncs took, by outcome.',
      labelNames: ['outcome'],
      buckets: SYNC_BUCKETS,
      registers,
    }),
    syncFetchedBytes: counter(
      'patchbay_sync_fetched_bytes_total',
      'Patch file bytes downloaded from upstream by syncs.',
    ),
    syncFetchedFiles: counter(
      'patchbay_sync_fetched_files_total',
      'Patch files downloaded from upstream by syncs.',
    ),
    syncRunning: gauge('patchbay_sync_running', '1 while a sync runs, else 0.'),
    clusterLeader: gauge(
      'patchbay_cluster_leader',
      '1 on the replica that holds the leader lock (always with SQLite: one server), else 0.',
    ),
    syncLastSuccess: gauge(
      'patchbay_sync_last_success_timestamp_seconds',
      'When the last sync that did not fail (ok, unchanged or partial) finished, Unix time; 0 when none is known.',
    ),
    syncHeldBack: gauge(
      'patchbay_sync_held_back_patches',
      'Patches the last finished sync held back (a file failed to download or verify).',
    ),
    catalogSequence: gauge(
      'patchbay_catalog_sequence',
      'Sequence of the catalog being served; 0 before the first publication.',
    ),
    catalogUpstreamSequence: gauge(
      'patchbay_catalog_upstream_sequence',
      'Upstream feed sequence the served catalog was built from; 0 before the first publication.',
    ),
    catalogPatches: gauge('patchbay_catalog_patches', 'Patches in the catalog being served.'),
    catalogPublished: gauge(
      'patchbay_catalog_published_timestamp_seconds',
      'When the served catalog was published, Unix time; 0 before the first publication.',
    ),
    catalogExpiry: gauge(
      'patchbay_catalog_expiry_timestamp_seconds',
      'When the served catalog expires (clients refuse it after), Unix time; 0 before the first publication.',
    ),
    storeBlobs: gauge(
      'patchbay_store_blobs',
      'Blobs in the content-addressed store (as /v1/status storage).',
    ),
    storeBytes: gauge('patchbay_store_bytes', 'Bytes of the blobs in the store.'),
    storeReclaimableBytes: gauge(
      'patchbay_store_reclaimable_bytes',
      'Bytes a garbage collection now would remove.',
    ),
    clients: gauge(
      'patchbay_clients',
      'Hosts by state, each in one: stale, else failed, behind, pending_reboot, compliant.',
      ['state'],
    ),
    httpDuration: new Histogram({
      name: 'patchbay_http_request_duration_seconds',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
    servedBytes: counter(
      'patchbay_served_bytes_total',
      'Body bytes of blob and catalog responses sent to completion (a range counts its own length).',
      ['kind'],
    ),
    httpAborted: counter(
      'patchbay_http_requests_aborted_total',
      'Requests whose client closed the connection before the answer was complete (e.g. a cut-off download).',
      ['method', 'route'],
    ),
    reportsAccepted: counter('patchbay_reports_accepted_total', 'Client reports stored (answered 200).'),
    reportEventsStored: counter('patchbay_report_events_stored_total', 'Report events newly stored.'),
    reportEventsDuplicate: counter(
      'patchbay_report_events_duplicate_total',
      'Report events ignored because that (hostId, seq) was already stored (a resent report).',
    ),
    reportEventsConflicting: counter(
      'patchbay_report_events_conflicting_total',
      'Report events not stored because a different event holds their (hostId, instanceId, seq) (a copied data dir).',
    ),
    reportsRejected: counter('patchbay_reports_rejected_total', 'Client reports refused, by reason.', [
      'reason',
    ]),
  };
  // Every labelled series exists from the start, so rate() and alerts see the first increase.
  for (const outcome of SYNC_OUTCOMES) {
    metrics.syncs.inc({ outcome }, 0);
    metrics.syncDuration.zero({ outcome });
  }
  for (const reason of REJECT_REASONS) metrics.reportsRejected.inc({ reason }, 0);
  for (const kind of SERVED_KINDS) metrics.servedBytes.inc({ kind }, 0);
  for (const state of CLIENT_STATES) metrics.clients.set({ state }, 0);
  return metrics;
}

let processRegistry: Registry | undefined;

/**
 * Gauges prom-client's defaults name with a counter's `_total` suffix, which
 * `promtool check metrics` rejects. Each is the sum of a per-type gauge it also exports
 * (`sum(nodejs_active_handles)`), so nothing is lost.
 */
export const DROPPED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** The process metrics' registry, made (and its collectors started) on first use. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    for (const name of DROPPED_DEFAULT_METRICS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/** The exposition text: the process metrics and this app's. */
export function renderMetrics(metrics: ServerMetrics): Promise<string> {
  return Registry.merge([processMetrics(), metrics.registry]).metrics();
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
