// patchbay-server: the staging server's command line (CONTRACT §3).
// Exit codes: 0 success, 1 the operation ran and failed, 2 bad usage or bad config.
import type { AddressInfo } from 'node:net';
import type { ScheduledTask } from 'node-cron';
import {
  createLogger,
  createStyle,
  ErrorCodes,
  errorMessage,
  ensureDataDir,
  formatBytes,
  formatError,
  isPatchbayError,
  loadServerConfig,
  nextStep,
  nextStepForMessage,
  progressEnabled,
  styleFor,
  SyncProgress,
  type Logger,
  type NextStepContext,
  type ServerConfig,
  type Style,
} from '@patchbay/core';
import type { MirrorService, SyncReport } from './mirror.js';
import type { Notifier } from './notify/notifier.js';
import type { ReportStore } from './reports/report-store.js';
import { PROGRAM, readCommandLine, type Invocation } from './command-line.js';
import { armExitBackstop, closeHttp, trackResponses, waitForStopSignal } from './shutdown.js';
import { assertCanListen, listenError } from './listen-check.js';

// The server's parts (fastify, SQLite, the sync engine) load only for the commands
// that use them, so --help and usage errors answer at once.
const loadMirrorService = async () => (await import('./sync/mirror-service.js')).createMirrorService;

export async function main(argv: string[]): Promise<number> {
  const invocation = readCommandLine(argv);
  // help, --version and bad usage were printed
  if (typeof invocation === 'number') return invocation;
  const hints: NextStepContext = {
    program: PROGRAM,
    ...(invocation.configFile ? { configFile: invocation.configFile } : {}),
  };
  let config: ServerConfig;
  try {
    config = loadServerConfig({ file: invocation.configFile, overrides: invocation.overrides });
  } catch (err) {
    if (!isPatchbayError(err, ErrorCodes.CONFIG)) throw err;
    printError(err.message, nextStep(err, hints));
    return 2;
  }
  hints.dataDir = config.dataDir;

  if (invocation.command === 'notify-test') return notifyTest(config, invocation.json);
  // every other command writes under dataDir: an unusable one (a file, /proc) fails here, at once
  // and before any key is made (a recursive mkdir would spin forever under /proc)
  try {
    await ensureDataDir(config.dataDir);
  } catch (err) {
    if (!isPatchbayError(err, ErrorCodes.CONFIG)) throw err;
    printError(err.message, nextStep(err, hints));
    return 2;
  }
  if (invocation.command === 'keygen') return keygen(config, invocation.keygen, invocation.json);
  if (invocation.command === 'enroll' || invocation.command === 'revoke') {
    const { runTokenCommand } = await import('./auth/token-cli.js');
    return runTokenCommand(invocation.command, invocation.args[0] ?? '', config.dataDir, invocation.json, {
      kind: invocation.branch ? 'branch' : 'host',
    });
  }

  const logger = createLogger({ name: PROGRAM, level: config.log.level });
  try {
    switch (invocation.command) {
      case 'serve':
        return await serve(config, logger, invocation.json);
      case 'gc': {
        const { runGcCommand } = await import('./gc/gc-cli.js');
        return await runGcCommand(config, logger, {
          dryRun: invocation.exchange.dryRun,
          json: invocation.json,
        });
      }
      case 'export': {
        const { runExportCommand } = await import('./exchange/export-cli.js');
        return await runExportCommand(config, logger, {
          dir: invocation.args[0]!,
          ...invocation.exchange,
          json: invocation.json,
          quiet: invocation.quiet,
        });
      }
      case 'import': {
        const { runImportCommand } = await import('./exchange/import-cli.js');
        return await runImportCommand(config, logger, { path: invocation.args[0]!, json: invocation.json });
      }
      default:
        return await syncOnce(config, logger, invocation, hints);
    }
  } catch (err) {
    if (isPatchbayError(err, ErrorCodes.CONFIG)) {
      printError(err.message, nextStep(err, hints));
      return 2;
    }
    logger.error({ err }, `${invocation.command} failed`);
    printError(`${invocation.command} failed: ${errorMessage(err)}`, nextStep(err, hints));
    return 1;
  }
}

/** `patchbay-server: message` and, when there is one, what to do next, on stderr. */
function printError(message: string, hint: string | undefined): void {
  process.stderr.write(formatError(PROGRAM, message, hint, styleFor(process.stderr)));
}

// ---- keygen ----------------------------------------------------------------

async function keygen(
  config: ServerConfig,
  opts: { force: boolean; rotate: boolean },
  json: boolean,
): Promise<number> {
  // trust v2: the online key (TUF snapshot and timestamp) too, made when absent (tuf/keygen-online.ts)
  const { runKeygenWithOnlineKey, formatKeygenWithOnlineKey } = await import('./tuf/keygen-online.js');
  try {
    const { result, onlineKeyCreated } = await runKeygenWithOnlineKey(config, opts);
    process.stdout.write(
      json ? `${JSON.stringify(result)}\n` : formatKeygenWithOnlineKey(result, onlineKeyCreated),
    );
    return 0;
  } catch (err) {
    if (!isPatchbayError(err, ErrorCodes.CONFIG)) throw err;
    process.stderr.write(`${PROGRAM}: keygen: ${err.message}\n`);
    return 2;
  }
}

// ---- sync ------------------------------------------------------------------

async function syncOnce(
  config: ServerConfig,
  logger: Logger,
  invocation: Pick<Invocation, 'json' | 'quiet'>,
  hints: NextStepContext,
): Promise<number> {
  const { json, quiet } = invocation;
  // a bar on a terminal stderr only (not --json/--quiet); off a terminal, logs as before
  const progress = progressEnabled(process.stderr, { json, quiet })
    ? new SyncProgress(process.stderr, styleFor(process.stderr))
    : undefined;
  const createMirrorService = await loadMirrorService();
  let mirror: MirrorService;
  try {
    mirror = await createMirrorService(config, logger, progress ? { syncProgress: progress } : {});
  } catch (err) {
    progress?.close();
    // `serve` holds the data directory: ask it to sync instead (sync/sync-via-server.ts).
    if (!isPatchbayError(err, ErrorCodes.LOCKED)) throw err;
    return syncViaServer(config, invocation, hints, err);
  }
  let report: SyncReport;
  let stats: { sequence: number } | null;
  try {
    report = await mirror.startSync();
    stats = await safeStats(mirror);
  } finally {
    progress?.close();
    await mirror.close();
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report.outcome === 'ok' ? 0 : 1;
  }
  process.stdout.write(formatSyncReport(report, stats, styleFor(process.stdout)));
  const hint = syncHint(report, hints);
  if (hint)
    process.stderr.write(`${styleFor(process.stderr).paint('yellow', `${PROGRAM}: hint:`)} ${hint}\n`);
  return report.outcome === 'ok' ? 0 : 1;
}

async function syncViaServer(
  config: ServerConfig,
  { json }: Pick<Invocation, 'json'>,
  hints: NextStepContext,
  locked: { context: Record<string, unknown> },
): Promise<number> {
  const { syncViaRunningServer } = await import('./sync/sync-via-server.js');
  const style = styleFor(process.stderr);
  const pid = typeof locked.context.pid === 'number' ? ` (pid ${locked.context.pid})` : '';
  const { url, report, sequence, joined } = await syncViaRunningServer(config);
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...report, via: url, joined })}\n`);
    return report.outcome === 'ok' ? 0 : 1;
  }
  process.stderr.write(
    `${style.paint('dim', `${PROGRAM}:`)} the data directory is in use by the running server${pid}: ` +
      `${joined ? 'a sync was already running there; its outcome' : `it synced on request (${url})`}\n`,
  );
  process.stdout.write(formatSyncReport(report, { sequence: sequence ?? 0 }, styleFor(process.stdout)));
  const hint = syncHint(report, hints);
  if (hint) process.stderr.write(`${style.paint('yellow', `${PROGRAM}: hint:`)} ${hint}\n`);
  return report.outcome === 'ok' ? 0 : 1;
}

/** What to do about a failed or partial sync (the reason is in the report). */
function syncHint(report: SyncReport, hints: NextStepContext): string | undefined {
  if (report.outcome === 'failed' && report.error) return nextStepForMessage(report.error, hints);
  if (report.heldBack.length > 0) {
    return (
      'held-back patches are tried again at every sync (the rest are published); ' +
      'if one stays held back, its upstream file is damaged or missing: tell the feed publisher'
    );
  }
  return undefined;
}

async function safeStats(mirror: MirrorService): Promise<{ sequence: number } | null> {
  try {
    return await mirror.stats();
  } catch {
    return null;
  }
}

const OUTCOME_COLOR = { ok: 'green', partial: 'yellow', failed: 'red', running: 'yellow' } as const;

export function formatSyncReport(
  report: SyncReport,
  stats: { sequence: number } | null,
  style: Style = createStyle(false),
): string {
  const outcome = style.paint(['bold', OUTCOME_COLOR[report.outcome]], report.outcome);
  const human = report.bytesFetched >= 1024 ? `, ${formatBytes(report.bytesFetched)}` : '';
  const lines = [
    `sync ${outcome}${report.error ? `: ${report.error}` : ''}`,
    `  upstream sequence: ${report.upstreamSequence ?? 'unknown'}${report.notModified ? ' (not modified)' : ''}`,
    `  mirror sequence:   ${stats?.sequence ?? 'unknown'}${report.published ? ' (published now)' : ''}`,
    `  files fetched:     ${report.filesFetched} (${report.bytesFetched} bytes${human})`,
  ];
  if (report.heldBack.length > 0) {
    lines.push(`  held back:         ${report.heldBack.length}`);
    for (const { patchId, error } of report.heldBack) lines.push(`    ${patchId}: ${error}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---- notify-test -----------------------------------------------------------

async function notifyTest(config: ServerConfig, json: boolean): Promise<number> {
  const { runNotifyTest, formatNotifyTest } = await import('./notify/notify-test.js');
  const result = await runNotifyTest(config.notify);
  if (result === null) {
    const message = 'notify is not configured (set notify.smtp.host, notify.from and notify.to)';
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    return 2;
  }
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatNotifyTest(result));
  if (!result.ok && !json) process.stderr.write(`${PROGRAM}: notify-test failed: ${result.error}\n`);
  return result.ok ? 0 : 1;
}

// ---- serve -----------------------------------------------------------------

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function serve(config: ServerConfig, logger: Logger, json: boolean): Promise<number> {
  const [
    createMirrorService,
    { ReportStore },
    { buildServer, createServerMetrics, observeSyncMetrics },
    { default: cron },
    notify,
    { readTlsFiles },
  ] = await Promise.all([
    loadMirrorService(),
    import('./reports/report-store.js'),
    import('./server.js'),
    import('node-cron'),
    import('./notify/index.js'),
    import('./trust/tls.js'),
  ]);
  // Read before anything opens: an unreadable cert or key is bad config (exit 2).
  const https = readTlsFiles(config.listen);
  // A port in use fails here, before the mirror opens (and makes its keys) in the data directory.
  await assertCanListen(config.listen.host, config.listen.port);
  // From here on a SIGTERM means a clean stop (default handling would kill mid-write).
  const stopSignal = waitForStopSignal();
  const realMirror = await createMirrorService(config, logger);
  let store: ReportStore | undefined;
  let notifier: Notifier = notify.disabledNotifier;
  let task: ScheduledTask | undefined;
  let pruneTask: ScheduledTask | undefined;
  // set once listening; declared here so that shutdown() sees it
  let gcTask: ScheduledTask | undefined = undefined;
  let rollup: { stop(): Promise<void> } | undefined = undefined;
  // Syncs started by the schedule, at start and by POST /v1/sync all go through this
  // wrapper, which mails the patches a published catalog added.
  let mirror: MirrorService = realMirror;
  const app = await (async () => {
    try {
      store = ReportStore.open(config.dataDir, { maxClockSkewSeconds: config.reports.maxClockSkewSeconds });
      notifier = await notify.createNotifier(config.notify, logger, { dataDir: config.dataDir });
      // One metrics registry counts every sync (schedule, start, POST /v1/sync) and serves /metrics.
      const metrics = createServerMetrics();
      mirror = observeSyncMetrics(notify.observeSyncs(realMirror, notifier, logger), metrics);
      return await buildServer({
        mirror,
        store,
        config,
        logger,
        notifier,
        metrics,
        nextSyncAt: () => task?.getNextRun() ?? null,
        ...(https ? { https } : {}),
      });
    } catch (err) {
      await notifier.close();
      store?.close();
      await realMirror.close();
      throw err;
    }
  })();

  const responses = trackResponses(app);
  const shutdown = async (): Promise<void> => {
    await task?.destroy();
    await pruneTask?.destroy();
    await gcTask?.destroy();
    // Before the report store closes: a rollup in flight finishes (or stays pending).
    await rollup?.stop();
    // Together: a running sync stops at its next consistent point (partials kept for resume,
    // nothing half published) while downloads in flight finish within the grace.
    await Promise.all([closeHttp(app, responses, logger), mirror.close()]);
    // After the HTTP side: reports still arriving during close are mailed (or persisted).
    await notifier.close();
    store?.close();
  };

  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    await shutdown();
    throw listenError(err, config.listen.host, config.listen.port);
  }
  const { port } = app.server.address() as AddressInfo;
  const url = `${https ? 'https' : 'http'}://${urlHost(config.listen.host)}:${port}`;
  process.stdout.write(
    json ? `${JSON.stringify({ url })}\n` : `${PROGRAM} listening on ${url} (status: ${url}/v1/status)\n`,
  );

  const syncInBackground = (reason: string): Promise<void> => {
    if (mirror.isSyncing()) {
      logger.info({ reason }, 'sync skipped: one is already running');
      return Promise.resolve();
    }
    logger.info({ reason }, 'sync starting');
    return mirror.startSync().then(
      (report) =>
        logger.info({ reason, outcome: report.outcome, heldBack: report.heldBack.length }, 'sync finished'),
      (err: unknown) => {
        if (isPatchbayError(err, ErrorCodes.SYNC_IN_PROGRESS))
          logger.info({ reason }, 'sync skipped: one is running');
        else logger.error({ reason, err }, 'sync failed');
      },
    );
  };

  void syncInBackground('start');
  // Cron expressions are read in schedule.timezone (an IANA name), else the machine's zone.
  const timezone = config.schedule.timezone ?? undefined;
  if (config.schedule.sync !== null) {
    // noOverlap: a tick that comes while the previous scheduled sync still runs is skipped
    // (and syncInBackground skips one started by POST /v1/sync or at start).
    task = cron.schedule(config.schedule.sync, () => syncInBackground('schedule'), {
      name: 'patchbay-sync',
      noOverlap: true,
      ...(timezone ? { timezone } : {}),
    });
  }
  if (config.schedule.prune !== null) {
    const reports = store;
    const { pruneExpiredEvents } = await import('./reports/retention.js');
    pruneTask = cron.schedule(
      config.schedule.prune,
      () => {
        if (!reports) return;
        try {
          const deleted = pruneExpiredEvents(reports, config.reports.retentionDays);
          logger.info(
            { deleted, retentionDays: config.reports.retentionDays },
            'expired report events pruned',
          );
        } catch (err) {
          logger.error({ err: errorMessage(err) }, 'pruning report events failed');
        }
      },
      { name: 'patchbay-prune', noOverlap: true, ...(timezone ? { timezone } : {}) },
    );
  }

  // schedule.gc: blobs no protected catalog names (waits out a running sync, see gc/gc-schedule.ts)
  gcTask = (await import('./gc/gc-schedule.js')).scheduleGc(cron, config, mirror, logger);
  // rollup: a branch forwards its clients' reports to its parent (tiered mirrors, tiers/)
  if (store && config.rollup)
    rollup = await (await import('./tiers/rollup-schedule.js')).startRollup(cron, config, store, logger);

  const signal = await stopSignal;
  logger.info({ signal }, 'shutting down');
  // A second signal while a sync winds down means "now".
  const forceExit = (): void => {
    logger.warn('second signal: exiting without waiting');
    process.exit(1);
  };
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);
  try {
    await shutdown();
  } finally {
    process.off('SIGTERM', forceExit);
    process.off('SIGINT', forceExit);
  }
  logger.info('stopped');
  armExitBackstop(0);
  return 0;
}
