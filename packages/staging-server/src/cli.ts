// patchbay-server: the staging server's command line (CONTRACT §3).
// Exit codes: 0 success, 1 the operation ran and failed, 2 bad usage or bad config.
import {
  endQuietlyOnBrokenPipe,
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
import { PROGRAM, readCommandLine, type Invocation } from './command-line.js';

// The server's parts (fastify, SQLite, the sync engine) load only for the commands
// that use them, so --help and usage errors answer at once.
const loadMirrorService = async () => (await import('./sync/mirror-service.js')).createMirrorService;

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnBrokenPipe(process.stdout);
  endQuietlyOnBrokenPipe(process.stderr);
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
    return runTokenCommand(invocation.command, invocation.args[0] ?? '', config, invocation.json, {
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

async function serve(config: ServerConfig, logger: Logger, json: boolean): Promise<number> {
  const { runServer } = await import('./lifecycle/run-server.js');
  return runServer(config, logger, (url) =>
    process.stdout.write(
      json ? `${JSON.stringify({ url })}\n` : `${PROGRAM} listening on ${url} (status: ${url}/v1/status)\n`,
    ),
  );
}
