export { main } from './cli.js';
export { CatalogSource } from './catalog-source.js';
export type { LoadedCatalog } from './loaded-catalog.js';
export { PublisherRepository, StagingServer, upstreamsFromConfig } from './upstream.js';
export type { Upstream, UpstreamKind } from './upstream.js';
export { Ledger } from './ledger.js';
export type { LedgerData, LedgerPatch, LedgerState } from './ledger.js';
export { buildReport, flushReports } from './reporter.js';
export { runCommand as runProcess, killTree } from './process-runner.js';
export { detectInstalled, takeInventory } from './inventory.js';
export { withFailover, isFailoverError } from './failover.js';
export { dataPaths } from './paths.js';
export { DAEMON_VERSION } from './version.js';
export { isInsideWindow, nextWindowOpening, openWindowAt, wallClockInstant } from './maintenance-window.js';
export {
  automaticSelection,
  scheduledInstallGate,
  hostRebootedSince,
  shouldRunRebootCommand,
} from './auto-policy.js';
export { nextCronRun } from './cron-schedule.js';
export { scheduleOverview } from './schedule-overview.js';
export type { ScheduleOverview } from './schedule-overview.js';
