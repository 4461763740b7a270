import type { ServerConfig } from '@patchbay/core';
import type { Leadership } from '../cluster/leadership.js';
import type { MirrorService } from '../mirror.js';
import type { Notifier } from '../notify/notifier.js';
import type { ReportStore } from '../reports/report-store.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { TokenStore } from '../auth/token-store.js';

/** What the route plugins read; server.ts builds it once. */
export interface HttpDeps {
  mirror: MirrorService;
  store: ReportStore;
  config: ServerConfig;
  /** when the process started, for uptimeSeconds */
  startedAt: Date;
  /** next scheduled sync (from the cron task), or null when none is scheduled */
  nextSyncAt: () => Date | null;
  /** the server's own version (package.json) */
  version: string;
  /** mail notifications; absent in tests that do not need them */
  notifier?: Notifier;
  /** what GET /metrics serves; absent: no /metrics route */
  metrics?: ServerMetrics;
  /** the clock report checks read (clock skew, event quotas); absent: the system clock */
  now?: () => Date;
  /** host and branch tokens, the store the access checks read */
  tokens: TokenStore;
  /** replicas: who leads (/v1/status, POST /v1/sync); absent: this server alone, its own leader */
  cluster?: ClusterView;
}

/** What the routes read of the leadership (cluster/leadership.ts). */
export type ClusterView = Pick<Leadership, 'replicaId' | 'database' | 'isLeader' | 'leaderId'>;
