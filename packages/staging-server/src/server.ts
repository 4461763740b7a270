// Builds the fastify app from its parts: the mirror (sync side), the report store
// and the config. No listening, no scheduling: cli.ts owns the process.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger, ServerConfig } from '@patchbay/core';
import type { MirrorService } from './mirror.js';
import type { Notifier } from './notify/notifier.js';
import type { HttpDeps } from './http/deps.js';
import type { ReportStore } from './reports/report-store.js';
import { installErrorHandlers } from './http/error-handler.js';
import { registerRoutes } from './http/routes/index.js';
import { SERVER_VERSION } from './http/version.js';

export interface BuildServerOptions {
  mirror: MirrorService;
  store: ReportStore;
  config: ServerConfig;
  /** pino logger (core createLogger); fastify logs requests through it at info */
  logger: Logger;
  /** next scheduled sync; defaults to "none scheduled" */
  nextSyncAt?: () => Date | null;
  startedAt?: Date;
  /** mails on reports and shown in /v1/status; absent: notifications off. Pass the mirror
   *  through observeSyncs(mirror, notifier) for patch-available mails. */
  notifier?: Notifier;
}

export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // The largest body any route takes; the report route sets its own limit from config.
    bodyLimit: options.config.reports.maxBodyBytes,
    // Request logs stay on (info). Reports never appear in them: fastify's request
    // serializer logs method, url and addresses only, and no hook here logs a body.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  installErrorHandlers(app);
  const deps: HttpDeps = {
    mirror: options.mirror,
    store: options.store,
    config: options.config,
    startedAt: options.startedAt ?? new Date(),
    nextSyncAt: options.nextSyncAt ?? (() => null),
    version: SERVER_VERSION,
    ...(options.notifier ? { notifier: options.notifier } : {}),
  };
  await registerRoutes(app, deps);
  await app.ready();
  return app;
}
