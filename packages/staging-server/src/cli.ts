// patchbay-server: the staging server's command line (CONTRACT §3).
// Exit codes: 0 success, 1 the operation ran and failed, 2 bad usage or bad config.
import { parseArgs, type ParseArgsConfig } from 'node:util';
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
  type DeepPartial,
  type Logger,
  type NextStepContext,
  type ServerConfig,
  type Style,
} from '@patchbay/core';
import type { MirrorService, SyncReport } from './mirror.js';
import { SERVER_VERSION } from './http/version.js';
import { tokenCommandUsageError } from './auth/token-usage.js';

// The server's parts (fastify, SQLite, the sync engine) load only for the commands
// that use them, so --help and usage errors answer at once.
const loadMirrorService = async () => (await import('./sync/mirror-service.js')).createMirrorService;

const PROGRAM = 'patchbay-server';

export const USAGE = `Usage: ${PROGRAM} [--config FILE] [--upstream URL] [--data-dir DIR] [--host H] [--port N] [--json] [--quiet] COMMAND

Commands:
  serve            run the server: sync at start and on schedule, serve the HTTP API
  sync             one sync, then exit (0 ok, 1 failed or partial)
  notify-test      send a test mail with the notify settings; print the SMTP answer
                   (0 accepted, 1 refused or failed, 2 notify not configured)
  gc               remove blobs no catalog needs any more (--dry-run: only report what would go)
  import PATH      add an export (directory or .tar) or a feed directory to the mirror,
                   verified as a sync verifies
  export DIR       write the published mirror as a feed directory another server can use as
                   its upstream (--product ID, --release R, --since SEQUENCE,
                   --chunk-size SIZE, --dry-run)
  keygen           create the mirror's signing key pair; prints the public key and fingerprint
                   (--force replaces an existing key; --rotate replaces it with an endorsement
                   by the old key, see docs/security.md "Key rotation"); also makes the online
                   key (TUF snapshot and timestamp) when absent and prints its key id
  enroll HOSTID    issue a host's report token (printed once; replaces an earlier one);
                   --branch: a branch staging server's rollup token instead (rollup.token there)
  revoke HOSTID    withdraw a host's (or branch's) token (1 when it had none)

Options (before or after COMMAND):
  --config FILE    JSON config file (see docs/config.md)
  --upstream URL   vendor feed URL (https:, http: or file:), overrides upstream.url
  --data-dir DIR   data directory, overrides dataDir
  --host H         listen address, overrides listen.host
  --port N         listen port (0 = any free port), overrides listen.port
  --json           print one JSON document to stdout
  -q, --quiet      no progress bar (sync shows one when stderr is a terminal)
  -h, --help       print this help
  --version        print the version

Colour only on a terminal, never with NO_COLOR set.
`;

const OPTIONS = {
  config: { type: 'string' },
  upstream: { type: 'string' },
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  rotate: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  product: { type: 'string', multiple: true },
  release: { type: 'string', multiple: true },
  since: { type: 'string' },
  'chunk-size': { type: 'string' },
  branch: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

const COMMANDS = new Set([
  'serve',
  'sync',
  'notify-test',
  'enroll',
  'revoke',
  'keygen',
  'gc',
  'import',
  'export',
]);
/** flags that belong to one command only (named in the usage error when given to another) */
const COMMAND_FLAGS: Record<string, readonly string[]> = {
  'dry-run': ['gc', 'export'],
  product: ['export'],
  release: ['export'],
  since: ['export'],
  'chunk-size': ['export'],
  branch: ['enroll'],
};

class UsageError extends Error {}

interface Invocation {
  command: string;
  args: string[];
  json: boolean;
  quiet: boolean;
  configFile: string | undefined;
  overrides: DeepPartial<ServerConfig>;
  keygen: { force: boolean; rotate: boolean };
  /** enroll --branch: a branch's rollup token rather than a host's report token */
  branch: boolean;
  /** gc, import and export options (validated by their modules) */
  exchange: ExchangeFlags;
}

export interface ExchangeFlags {
  dryRun: boolean;
  products: string[];
  releases: string[];
  since: string | undefined;
  chunkSize: string | undefined;
}

function parseInvocation(argv: string[]): Invocation | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'([^']+)'/.exec(errorMessage(err))?.[1] ?? errorMessage(err);
      throw new UsageError(`unknown flag ${flag}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(errorMessage(err));
    throw err;
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (values.version) return 'version';
  const [command, ...args] = positionals;
  if (command === undefined) throw new UsageError('missing COMMAND');
  if (!COMMANDS.has(command)) throw new UsageError(`unknown command "${command}"`);
  if (command !== 'keygen' && (values.force || values.rotate)) {
    throw new UsageError(`--${values.force ? 'force' : 'rotate'} belongs to keygen, not ${command}`);
  }
  if (command === 'keygen' && values.force && values.rotate) {
    throw new UsageError('keygen takes --force or --rotate, not both');
  }
  for (const [flag, commands] of Object.entries(COMMAND_FLAGS)) {
    const value = values[flag as keyof typeof values];
    const given = Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
    if (given && !commands.includes(command)) {
      throw new UsageError(`--${flag} belongs to ${commands.join(' and ')}, not ${command}`);
    }
  }
  if (
    (command === 'serve' ||
      command === 'sync' ||
      command === 'notify-test' ||
      command === 'keygen' ||
      command === 'gc') &&
    args.length > 0
  ) {
    throw new UsageError(`${command} takes no arguments, got "${args.join(' ')}"`);
  }
  if (command === 'enroll' || command === 'revoke') {
    const problem = tokenCommandUsageError(command, args);
    if (problem !== null) throw new UsageError(problem);
  }
  if ((command === 'import' || command === 'export') && args.length !== 1) {
    throw new UsageError(
      `${command} takes exactly one ${command === 'import' ? 'PATH' : 'DIR'}, got ${args.length === 0 ? 'none' : `"${args.join(' ')}"`}`,
    );
  }

  const overrides: DeepPartial<ServerConfig> = {};
  if (values.upstream !== undefined) overrides.upstream = { url: values.upstream };
  if (values['data-dir'] !== undefined) overrides.dataDir = values['data-dir'];
  if (values.host !== undefined || values.port !== undefined) {
    overrides.listen = {};
    if (values.host !== undefined) overrides.listen.host = values.host;
    if (values.port !== undefined) overrides.listen.port = parsePort(values.port);
  }
  return {
    command,
    args,
    json: values.json,
    quiet: values.quiet,
    configFile: values.config,
    overrides,
    keygen: { force: values.force, rotate: values.rotate },
    branch: values.branch,
    exchange: {
      dryRun: values['dry-run'],
      products: values.product ?? [],
      releases: values.release ?? [],
      since: values.since,
      chunkSize: values['chunk-size'],
    },
  };
}

function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65535))
    throw new UsageError(`--port must be an integer from 0 to 65535, got "${value}"`);
  return port;
}

export async function main(argv: string[]): Promise<number> {
  let invocation;
  try {
    invocation = parseInvocation(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(
      formatError(PROGRAM, err.message, `run "${PROGRAM} --help" for usage`, styleFor(process.stderr)),
    );
    return 2;
  }
  if (invocation === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (invocation === 'version') {
    process.stdout.write(`${SERVER_VERSION}\n`);
    return 0;
  }
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

async function serve(config: ServerConfig, logger: Logger, json: boolean): Promise<number> {
  const { runServer } = await import('./lifecycle/run-server.js');
  return runServer(config, logger, (url) =>
    process.stdout.write(
      json ? `${JSON.stringify({ url })}\n` : `${PROGRAM} listening on ${url} (status: ${url}/v1/status)\n`,
    ),
  );
}
