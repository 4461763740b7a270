// Prometheus metrics (docs/metrics.md): server.ts installs the HTTP hooks and serves
// /metrics and counts the mirror's syncs through observeSyncMetrics (its sync:end events).
export {
  createServerMetrics,
  renderMetrics,
  CLIENT_STATES,
  REJECT_REASONS,
  SYNC_OUTCOMES,
  type ServerMetrics,
} from './server-metrics.js';
export { installMetrics, UNMATCHED_ROUTE } from './http-metrics.js';
export { observeSyncMetrics, recordSync, syncOutcome } from './sync-metrics.js';
export { metricsRoutes } from './metrics-route.js';
