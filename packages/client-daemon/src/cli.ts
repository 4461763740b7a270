import { parseArgs } from 'node:util';
import {
  ErrorCodes,
  EVENT_TYPES,
  PatchbayError,
  ensureDataDir,
  errorMessage,
  formatError,
  isPatchbayError,
  nextStep,
  styleFor,
} from '@patchbay/core';
import type { CommandArgs, HistoryFilter } from './commands/common.js';
import { endQuietlyOnBrokenPipe } from './broken-pipe.js';
import { Output } from './output.js';
import { createSession } from './session.js';
import type { Session } from './session.js';
import { DAEMON_VERSION } from './version.js';

type CommandFn = (session: Session, args: CommandArgs) => Promise<number>;

interface CommandSpec {
  /** Imported when chosen: a command loads only its own modules (e.g. `check` never loads
   *  the daemon's cron and time-zone libraries), which shortens every CLI start. */
  load: () => Promise<CommandFn>;
  /** flags besides the global ones */
  flags: readonly ('all' | 'critical' | 'cascade' | 'once')[];
  /** how many positional arguments after COMMAND: [min, max] */
  positionals: [number, number];
}

const COMMANDS: Record<string, CommandSpec> = {
  check: {
    load: async () => (await import('./commands/check.js')).checkCommand,
    flags: [],
    positionals: [0, 0],
  },
  download: {
    load: async () => (await import('./commands/download.js')).downloadCommand,
    flags: ['all', 'critical'],
    positionals: [0, Infinity],
  },
  install: {
    load: async () => (await import('./commands/install.js')).installCommand,
    flags: ['all', 'critical'],
    positionals: [0, Infinity],
  },
  uninstall: {
    load: async () => (await import('./commands/uninstall.js')).uninstallCommand,
    flags: ['cascade'],
    positionals: [1, 1],
  },
  status: {
    load: async () => (await import('./commands/status.js')).statusCommand,
    flags: [],
    positionals: [0, 0],
  },
  history: {
    load: async () => (await import('./commands/history.js')).historyCommand,
    flags: [],
    positionals: [0, 0],
  },
  run: {
    load: async () => (await import('./commands/run.js')).runCommand,
    flags: ['once'],
    positionals: [0, 0],
  },
  doctor: {
    load: async () => (await import('./commands/doctor.js')).doctorCommand,
    flags: [],
    positionals: [0, 0],
  },
};

const USAGE = `usage: patchbay-client [--config FILE] [--server URL]... [--data-dir DIR] [--json] [--quiet] COMMAND

commands:
  check                               fetch the catalog, scan this host, list patches and their states
  download [ID... | --all | --critical]   download (with requirements) into the local cache
  install  [ID... | --all | --critical]   download as needed, install in dependency order
  uninstall ID [--cascade]            uninstall (dependants first with --cascade)
  status                              this host's patch states, without the network
  history [--patch ID] [--type T] [--since TIME] [--until TIME]   this host's events
  run [--once]                        the daemon: scheduled check, download and install by policy, reports
  doctor                              check the config, staging servers, cache space and install dirs

flags:
  --json        print one JSON document to stdout (errors too: {"error": {...}})
  -q, --quiet   no progress bars and no notes on stderr (warnings and errors still)

Flags may stand before or after COMMAND. Exit: 0 ok, 1 something failed, 2 bad usage or config.
Colour only on a terminal, never with NO_COLOR set; progress bars only when stderr is a terminal.`;

/** Codes that mean "the command line or the config is wrong" (exit 2). */
const USAGE_CODES = new Set<string>([
  ErrorCodes.USAGE,
  ErrorCodes.CONFIG,
  ErrorCodes.UNKNOWN_PATCH,
  ErrorCodes.UNKNOWN_PRODUCT,
]);

function usageError(message: string, context: Record<string, unknown> = {}): PatchbayError {
  return new PatchbayError(ErrorCodes.USAGE, message, context);
}

interface ParsedCli {
  command: string;
  spec: CommandSpec;
  args: CommandArgs;
  flags: { config?: string; server?: string[]; dataDir?: string; json: boolean };
  quiet: boolean;
}

function parseCli(argv: string[]): ParsedCli | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        server: { type: 'string', multiple: true },
        'data-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        all: { type: 'boolean', default: false },
        critical: { type: 'boolean', default: false },
        cascade: { type: 'boolean', default: false },
        once: { type: 'boolean', default: false },
        patch: { type: 'string' },
        type: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw usageError(errorMessage(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (values.version) return 'version';
  const [command, ...rest] = positionals;
  if (!command) throw usageError('missing COMMAND');
  const spec = COMMANDS[command];
  if (!spec) throw usageError(`unknown command "${command}"`, { command });
  for (const flag of ['all', 'critical', 'cascade', 'once'] as const) {
    if (values[flag] && !spec.flags.includes(flag)) {
      throw usageError(`--${flag} does not apply to ${command}`, { flag: `--${flag}` });
    }
  }
  if (values.all && values.critical)
    throw usageError('--all and --critical exclude each other', { flag: '--all' });
  if ((values.all || values.critical) && rest.length > 0) {
    throw usageError(`${command}: name patch ids or pass --${values.all ? 'all' : 'critical'}, not both`);
  }
  const [min, max] = spec.positionals;
  if (rest.length < min || rest.length > max) {
    throw usageError(
      max === 0
        ? `${command} takes no arguments (got ${rest.join(' ')})`
        : `${command} takes ${min === max ? min : `${min} or more`} argument(s)`,
      { command },
    );
  }
  if (
    (command === 'download' || command === 'install') &&
    rest.length === 0 &&
    !values.all &&
    !values.critical
  ) {
    throw usageError(`${command}: name patch ids, or pass --all or --critical`, { command });
  }
  const filter = parseHistoryFilter(command, values);
  for (const server of values.server ?? []) {
    // the same URLs as the config's `server` (docs/client-config.schema.json): a staging
    // server over http(s), or a vendor feed over http(s) or file: (direct mode)
    if (!/^(https?|file):/.test(server))
      throw usageError(`--server ${server}: not an http(s) or file: URL`, { flag: '--server' });
  }
  const flags: ParsedCli['flags'] = { json: values.json };
  if (values.config !== undefined) flags.config = values.config;
  if (values.server !== undefined) flags.server = values.server;
  if (values['data-dir'] !== undefined) flags.dataDir = values['data-dir'];
  return {
    command,
    spec,
    flags,
    quiet: values.quiet,
    args: {
      positionals: rest,
      all: values.all,
      critical: values.critical,
      cascade: values.cascade,
      once: values.once,
      filter,
    },
  };
}

/** --patch/--type/--since/--until: history only; times are RFC 3339. */
function parseHistoryFilter(
  command: string,
  values: { patch?: string; type?: string; since?: string; until?: string },
): HistoryFilter {
  const filter: HistoryFilter = {};
  for (const flag of ['patch', 'type', 'since', 'until'] as const) {
    const value = values[flag];
    if (value === undefined) continue;
    if (command !== 'history') throw usageError(`--${flag} applies to history only`, { flag: `--${flag}` });
    if (flag === 'type' && !(EVENT_TYPES as readonly string[]).includes(value)) {
      throw usageError(`--type ${value}: not one of ${EVENT_TYPES.join(', ')}`, { flag: '--type' });
    }
    if (flag === 'since' || flag === 'until') {
      const at = Date.parse(value);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at)) {
        throw usageError(`--${flag} ${value}: not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)`, {
          flag: `--${flag}`,
        });
      }
      filter[flag] = at;
    } else {
      filter[flag] = value;
    }
  }
  return filter;
}

/** Commands that may download patch files (and so show a progress bar on a terminal). */
const DOWNLOADING = new Set(['download', 'install', 'uninstall']);

/** Entry point of bin/patchbay-client.js: returns the exit code (0 ok, 1 failed, 2 usage/config). */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  endQuietlyOnBrokenPipe(process.stdout);
  endQuietlyOnBrokenPipe(process.stderr);
  let session: Session | undefined;
  let parsed: ParsedCli | 'help' | 'version' | undefined;
  try {
    parsed = parseCli(argv);
    if (parsed === 'help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if (parsed === 'version') {
      process.stdout.write(DAEMON_VERSION + '\n');
      return 0;
    }
    session = createSession(parsed.flags, parsed.command);
    session.out = new Output(parsed.flags.json, process.stdout, process.stderr, { quiet: parsed.quiet });
    if (DOWNLOADING.has(parsed.command)) session.out.startProgress();
    // before any command writes under it: an unusable dataDir fails here, at once (exit 2)
    await ensureDataDir(session.config.dataDir);
    const run = await parsed.spec.load();
    const code = await run(session, parsed.args);
    // a refused report (revoked or missing token) was said on stderr; it fails a one-shot command
    // (the daemon goes on and says it at every report)
    const daemon = parsed.command === 'run' && !parsed.args.once;
    return code === 0 && session.reportRefused && !daemon ? 1 : code;
  } catch (err) {
    session?.out.close();
    const usage = isPatchbayError(err) && USAGE_CODES.has(err.code);
    const flags = typeof parsed === 'object' ? parsed.flags : undefined;
    // what to do next: the key to fix, the command to run, the file to look at
    const hint = nextStep(err, {
      program: 'patchbay-client',
      ...(typeof parsed === 'object' ? { command: parsed.command } : {}),
      ...(flags?.config ? { configFile: flags.config } : {}),
      ...(session ? { hostId: session.config.hostId, dataDir: session.config.dataDir } : {}),
    });
    process.stderr.write(
      formatError(
        'patchbay-client',
        errorMessage(err),
        hint,
        session?.out.errStyle ?? styleFor(process.stderr),
      ),
    );
    if (json) {
      const error = isPatchbayError(err)
        ? err.toJSON()
        : { code: 'PB_ERR_INTERNAL', message: errorMessage(err) };
      process.stdout.write(JSON.stringify({ error: hint ? { ...error, hint } : error }, null, 2) + '\n');
    }
    if (!isPatchbayError(err)) session?.logger.error({ err }, 'unexpected error');
    return usage ? 2 : 1;
  } finally {
    session?.out.close();
    await session?.close();
  }
}
