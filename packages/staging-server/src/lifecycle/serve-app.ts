// The app `serve` runs, as a tree of fastify plugins. Each one opens its part, decorates the
// app with it and closes it in an onClose hook; fastify runs those in reverse registration
// order, so the list below is the start order and, read upwards, the close order:
//
//   leadership ─ data dir lock ─ report store ─ notifier ─ mirror ─ schedules ─ HTTP API ─ graceful close
//
// app.close(): schedules stop and the mirror starts stopping a running sync (preClose); the
// listener closes and responses in flight finish within the grace; then the HTTP side's
// handles, the mirror (its sync ended), the notifier (outbox flushed), the report store, the
// data-directory lock and, last, the leadership (replicas: another may lead from then on).
import type { FastifyInstance } from 'fastify';
import type { Logger, ServerConfig } from '@patchbay/core';
import { resolveAdminToken } from '../auth/admin-token.js';
import type { Leadership } from '../cluster/leadership.js';
import type { MirrorService } from '../mirror.js';
import type { Notifier } from '../notify/notifier.js';
import type { ReportStore } from '../reports/report-store.js';
import { createApp, httpApi, type HttpApiOptions } from '../server.js';
import { gracefulClosePlugin } from '../shutdown.js';
import { dataDirPlugin } from './data-dir-plugin.js';
import { leadershipPlugin } from './leadership-plugin.js';
import { mirrorPlugin } from './mirror-plugin.js';
import { notifierPlugin } from './notifier-plugin.js';
import { reportStorePlugin } from './report-store-plugin.js';
import { schedulesPlugin } from './schedules-plugin.js';

export interface ServeAppOptions {
  /** listen.tls read by readTlsFiles (trust/tls.ts): serve HTTPS */
  https?: { cert: Buffer; key: Buffer };
}

/** Everything opened and ready, not listening. A failure closes what was opened, then throws. */
export async function buildServeApp(
  config: ServerConfig,
  logger: Logger,
  options: ServeAppOptions = {},
): Promise<FastifyInstance> {
  // Before anything is opened: a bad admin token config fails here (PB_ERR_CONFIG).
  const adminToken = resolveAdminToken(config.auth);
  const app = createApp({ config, logger, ...options });
  const parts = { config, logger };
  try {
    await app.register(leadershipPlugin, parts);
    await app.register(dataDirPlugin, parts);
    await app.register(reportStorePlugin, parts);
    await app.register(notifierPlugin, parts);
    await app.register(mirrorPlugin, parts);
    await app.register(schedulesPlugin, parts);
    await app.register(httpApi, (parent: FastifyInstance): HttpApiOptions => ({
      config,
      logger,
      adminToken,
      mirror: parent.getDecorator<MirrorService>('mirror'),
      store: parent.getDecorator<ReportStore>('reportStore'),
      notifier: parent.getDecorator<Notifier>('notifier'),
      nextSyncAt: parent.getDecorator<() => Date | null>('nextSyncAt'),
      cluster: parent.getDecorator<Leadership>('leadership'),
      ...options,
    }));
    await app.register(gracefulClosePlugin, { logger });
    await app.ready();
  } catch (err) {
    await app
      .close()
      .catch((closeErr: unknown) => logger.error({ err: closeErr }, 'closing after a failed start'));
    throw err;
  }
  return app;
}
