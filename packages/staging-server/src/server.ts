// The fastify app and its HTTP API over given parts: the mirror (sync side), the report store
// and the config. No listening, no scheduling: `serve` adds the lifecycle plugins that open and
// close those parts (lifecycle/serve-app.ts); tests pass their own (buildServer).
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import type { Logger, ServerConfig } from '@patchbay/core';
import type { MirrorService } from './mirror.js';
import type { Notifier } from './notify/notifier.js';
import type { ClusterView, HttpDeps } from './http/deps.js';
import type { ReportStore } from './reports/report-store.js';
import { installErrorHandlers } from './http/error-handler.js';
import { collectMethodsForAllow } from './http/method-not-allowed.js';
import { registerOpenApi } from './http/openapi.js';
import { refuseDeepJson } from './http/json-depth.js';
import { installRequestLog } from './http/request-log.js';
import { resolveAdminToken } from './auth/admin-token.js';
import { installAccessControl } from './auth/guard.js';
import { installSameOriginChecks } from './auth/same-origin.js';
import { redactingLogger, registerHardening, timeoutOptions } from './auth/http-hardening.js';
import { openTokenStore } from './auth/open-token-store.js';
import type { TokenStore } from './auth/token-store.js';
import { TLS_SERVER_OPTIONS } from './trust/tls.js';
import { registerRoutes } from './http/routes/index.js';
import {
  createServerMetrics,
  installMetrics,
  observeSyncMetrics,
  type ServerMetrics,
} from './metrics/index.js';
import { trustRoutes } from './http/routes/trust.js';
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
  /** mails on reports and shown in /v1/status; absent: notifications off. Subscribe it with
   *  observeSyncs(mirror.events, notifier) for patch-available mails. */
  notifier?: Notifier;
  /** per-host report tokens; default: the configured store (openTokenStore), opened here and closed with the app */
  tokens?: TokenStore;
  /** what GET /metrics serves (absent: made here); every sync of the mirror is counted in it */
  metrics?: ServerMetrics;
  /** listen.tls read by readTlsFiles (trust/tls.ts): serve HTTPS */
  https?: { cert: Buffer; key: Buffer };
  /** the server's clock for report checks (clock skew, event quotas); tests inject one */
  now?: () => Date;
  /** replicas (cluster/): who leads; absent: this server alone, always its own leader */
  cluster?: ClusterView;
}

/** The app over parts the caller opened and closes (tests; `serve` uses lifecycle/serve-app.ts). */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  // Before anything is opened: a bad admin token config fails here (PB_ERR_CONFIG).
  const adminToken = resolveAdminToken(options.config.auth);
  const app = createApp(options);
  await app.register(httpApi, { ...options, adminToken });
  await app.ready();
  return app;
}

/** The fastify instance with the server's options; nothing registered yet. */
export function createApp(options: Pick<BuildServerOptions, 'config' | 'logger' | 'https'>): FastifyInstance {
  return Fastify({
    // Bearer tokens, cookies and configured secrets are censored in every log line.
    loggerInstance: redactingLogger(options.logger),
    ...timeoutOptions(options.config.listen),
    // Long enough for any hostId that HOST_ID_PATTERN allows (253 characters).
    routerOptions: { maxParamLength: 256 },
    // The largest body any route takes; the report route sets its own limit from config.
    bodyLimit: options.config.reports.maxBodyBytes,
    // Request logs stay on, one line per request (http/request-log.ts) rather than fastify's two:
    // at fleet scale the log line is a measurable share of a catalog 304 (docs/performance.md).
    // Reports never appear in them: fastify's request serializer logs method, url and
    // addresses only, and no hook here logs a body.
    // (through logController: fastify 5 deprecates the top-level option, a warning at every start)
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Opening the mirror (checking a large store) may outlast fastify's 10 s plugin timeout,
    // and a close must wait for a rollup in flight as it always has.
    pluginTimeout: 0,
    // TLS 1.2+ with ECDHE + AEAD suites only (trust/tls.ts), whoever read the files.
    ...(options.https ? { https: { ...options.https, ...TLS_SERVER_OPTIONS } } : {}),
  }) as FastifyInstance;
}

export interface HttpApiOptions extends BuildServerOptions {
  /** resolveAdminToken(config.auth), resolved before anything was opened */
  adminToken: string | null;
}

/**
 * Hooks, access control, metrics and every route, on the instance it is registered on
 * (fastify-plugin: the error handlers and hooks must reach the whole app).
 */
export const httpApi = fastifyPlugin(registerHttpApi, { name: 'patchbay-http-api' });

async function registerHttpApi(app: FastifyInstance, options: HttpApiOptions): Promise<void> {
  const adminToken = options.adminToken;
  installErrorHandlers(app);
  // Every route's other methods get 405 with Allow, added once the last route is in.
  const addMethodRefusals = collectMethodsForAllow(app);
  refuseDeepJson(app);
  // One line per answer; a polling host's routine answers at debug (http/request-log.ts).
  installRequestLog(app, options.logger);
  const tokens = options.tokens ?? (await openTokenStore(options.config, { logger: options.logger }));
  if (!options.tokens) app.addHook('onClose', async () => tokens.close());
  await registerHardening(app, options.config);
  // Missing auth keys (a config not from loadServerConfig): the loopback defaults, but report
  // tokens are required everywhere (a reverse proxy on this machine makes every request loopback).
  installAccessControl(app, {
    tokens,
    adminToken,
    publicStatus: options.config.auth?.publicStatus ?? true,
    reportTokens: options.config.auth?.reportTokens ?? 'required',
  });
  // Host, Origin and JSON-only checks against web pages (DNS rebinding, cross-site POSTs).
  installSameOriginChecks(app, {
    listen: options.config.listen,
    adminToken: adminToken !== null,
    publicStatus: options.config.auth?.publicStatus ?? true,
  });
  const metrics = options.metrics ?? createServerMetrics();
  const unobserve = observeSyncMetrics(options.mirror.events, metrics);
  app.addHook('onClose', async () => unobserve());
  // Before the routes: its hooks must reach every one of them.
  installMetrics(app, metrics);
  const deps: HttpDeps = {
    mirror: options.mirror,
    store: options.store,
    config: options.config,
    startedAt: options.startedAt ?? new Date(),
    nextSyncAt: options.nextSyncAt ?? (() => null),
    version: SERVER_VERSION,
    ...(options.notifier ? { notifier: options.notifier } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.cluster ? { cluster: options.cluster } : {}),
    metrics,
    tokens,
  };
  // Before the routes: it documents each as it is added (/v1/openapi.json).
  await registerOpenApi(app, SERVER_VERSION);
  await registerRoutes(app, deps);
  await app.register(trustRoutes, { mirror: options.mirror });
  addMethodRefusals();
}
