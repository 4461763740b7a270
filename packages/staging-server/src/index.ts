export type {
  MirrorService,
  PublishedCatalog,
  SyncReport,
  HeldBackPatch,
  MirrorStats,
  MirrorKeys,
  RotationEndorsement,
} from './mirror.js';
export { buildServer, type BuildServerOptions } from './server.js';
export { ReportStore, REPORTS_FILE } from './reports/report-store.js';
export type { ClientDetail, ClientSummary, HistoryQuery, StoredEvent } from './reports/types.js';
export { buildCompliance, type ComplianceRow } from './reports/compliance.js';
export { main } from './cli.js';
