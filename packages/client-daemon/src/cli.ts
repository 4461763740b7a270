import { Command, Option } from 'commander';
import {
  endQuietlyOnBrokenPipe,
  ErrorCodes,
  EVENT_TYPES,
  PatchbayError,
  ensureDataDir,
  errorMessage,
  formatError,
  isPatchbayError,
  nextStep,
  parseCommandLine,
  repeatableOption,
  styleFor,
  withCommandLineConventions,
} from '@patchbay/core';
import type { CommandArgs, HistoryFilter } from './commands/common.js';
import { Output } from './output.js';
import { createSession } from './session.js';
import type { Session } from './session.js';
import { DAEMON_VERSION } from './version.js';

type CommandFn = (session: Session, args: CommandArgs) => Promise<number>;

const PROGRAM = 'patchbay-client';

/** What the command line asked for; main() runs it. */
interface Invocation {
  command: string;
  /** Imported when chosen: a command loads only its own modules (e.g. `check` never loads
   *  the daemon's cron and time-zone libraries), which shortens every CLI start. */
  load: () => Promise<CommandFn>;
  args: CommandArgs;
  flags: { config?: string; server?: string[]; dataDir?: string; json: boolean };
  quiet: boolean;
}

/** commander's option values: the global flags and those of the chosen command. */
interface Flags {
  config?: string;
  server?: string[];
  dataDir?: string;
  json?: boolean;
  quiet?: boolean;
  all?: boolean;
  critical?: boolean;
  cascade?: boolean;
  once?: boolean;
  patch?: string;
  type?: string;
  since?: number;
  until?: number;
  rule?: string;
  product?: string;
}

/** The command line (docs/cli.md): the global flags, then one entry per command. */
function commandLine(chosen: { invocation?: Invocation }): Command {
  const program = new Command(PROGRAM)
    .usage('[--config FILE] [--server URL]... [--data-dir DIR] [--json] [--quiet] COMMAND')
    .description("A production host's patch client: check, download, install and report.")
    .option('-c, --config <FILE>', 'JSON config file (see docs/config.md)')
    .option(
      '--server <URL>',
      "staging server or vendor feed, replaces the config's server (repeatable: tried in order)",
      repeatableOption,
    )
    .option('--data-dir <DIR>', 'data directory, overrides dataDir')
    .option('--json', 'print one JSON document to stdout (errors too: {"error": {...}})')
    .option('-q, --quiet', 'no progress bars and no notes on stderr (warnings and errors still)')
    .addHelpText(
      'after',
      '\nFlags may stand before or after COMMAND. Exit: 0 ok, 1 something failed, 2 bad usage or config.\n' +
        'Colour only on a terminal, never with NO_COLOR set; progress bars only when stderr is a terminal.',
    );
  withCommandLineConventions(program, {
    version: DAEMON_VERSION,
    stdout: (text) => process.stdout.write(text),
  });
  const command = (name: string, load: () => Promise<CommandFn>): Command =>
    program.command(name).action((...args: unknown[]) => {
      // commander passes (arguments…, options, command): the command is always last
      chosen.invocation = invocationOf(args.at(-1) as Command, load);
    });
  const selection = (cmd: Command): Command =>
    cmd
      .argument('[ID...]', 'patch ids (their requirements come too)')
      .addOption(new Option('--all', 'every applicable patch').conflicts('critical'))
      .option('--critical', 'every applicable critical patch')
      .hook('preAction', checkSelection);

  command('check', async () => (await import('./commands/check.js')).checkCommand).description(
    'fetch the catalog, scan this host, list patches and their states',
  );
  selection(
    command('download', async () => (await import('./commands/download.js')).downloadCommand),
  ).description('download (with requirements) into the local cache');
  selection(
    command('install', async () => (await import('./commands/install.js')).installCommand),
  ).description('download as needed, install in dependency order');
  command('uninstall', async () => (await import('./commands/uninstall.js')).uninstallCommand)
    .description('uninstall a patch (refused while installed patches require it)')
    .argument('<ID>', 'the patch')
    .option('--cascade', 'uninstall the patches that require it first');
  command('status', async () => (await import('./commands/status.js')).statusCommand).description(
    "this host's patch states, without the network",
  );
  command('history', async () => (await import('./commands/history.js')).historyCommand)
    .description("this host's events")
    .option('--patch <ID>', 'only this patch')
    .addOption(new Option('--type <T>', 'only this event type').choices(EVENT_TYPES))
    .option('--since <TIME>', 'from this time on, inclusive (RFC 3339)', timeOption('--since'))
    .option('--until <TIME>', 'before this time (RFC 3339)', timeOption('--until'));
  command('run', async () => (await import('./commands/run.js')).runCommand)
    .description('the daemon: scheduled check, download and install by policy, reports')
    .option('--once', 'one check, download and install now (by policy), then exit');
  command('doctor', async () => (await import('./commands/doctor.js')).doctorCommand).description(
    'check the config, staging servers, cache space and install dirs',
  );
  command('detect', async () => (await import('./commands/detect.js')).detectCommand)
    .description("evaluate detect rules and show what each read (the cached catalog's, or --rule)")
    .argument('[ID...]', 'patch ids (default: every patch of the cached catalog for this host)')
    .option('--rule <JSON>', 'one detect rule instead, as JSON (checked by the feed schema)')
    .option(
      '--product <ID>',
      'with --rule: whose installDir fills {installDir} (default: the first configured)',
    );
  return program;
}

/** A commander argParser for --since/--until: an RFC 3339 time, as epoch ms. */
function timeOption(flag: string): (value: string) => number {
  return (value) => {
    const at = Date.parse(value);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at)) {
      throw usageError(`${flag} ${value}: not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)`, { flag });
    }
    return at;
  };
}

/** download, install: patch ids, or --all or --critical (which commander keeps apart). */
function checkSelection(command: Command): void {
  const name = command.name();
  const ids = command.processedArgs[0] as string[];
  const { all, critical } = command.opts<Flags>();
  if ((all || critical) && ids.length > 0)
    throw usageError(`${name}: name patch ids or pass --${all ? 'all' : 'critical'}, not both`);
  if (ids.length === 0 && !all && !critical)
    throw usageError(`${name}: name patch ids, or pass --all or --critical`, { command: name });
}

function invocationOf(command: Command, load: () => Promise<CommandFn>): Invocation {
  const name = command.name();
  const flags = command.optsWithGlobals<Flags>();
  // [ID...] arrives as one array, <ID> as a string
  const positionals = (command.processedArgs as (string | string[])[]).flat();
  for (const server of flags.server ?? []) {
    // the same URLs as the config's `server` (docs/client-config.schema.json): a staging
    // server over http(s), or a vendor feed over http(s) or file: (direct mode)
    if (!/^(https?|file):/.test(server))
      throw usageError(`--server ${server}: not an http(s) or file: URL`, { flag: '--server' });
  }
  const filter: HistoryFilter = {};
  if (flags.patch !== undefined) filter.patch = flags.patch;
  if (flags.type !== undefined) filter.type = flags.type;
  if (flags.since !== undefined) filter.since = flags.since;
  if (flags.until !== undefined) filter.until = flags.until;
  return {
    command: name,
    load,
    flags: {
      json: flags.json === true,
      ...(flags.config !== undefined ? { config: flags.config } : {}),
      ...(flags.server !== undefined ? { server: flags.server } : {}),
      ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
    },
    quiet: flags.quiet === true,
    args: {
      positionals,
      all: flags.all === true,
      critical: flags.critical === true,
      cascade: flags.cascade === true,
      once: flags.once === true,
      filter,
      ...(flags.rule !== undefined ? { rule: flags.rule } : {}),
      ...(flags.product !== undefined ? { product: flags.product } : {}),
    },
  };
}

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

/** Commands that may download patch files (and so show a progress bar on a terminal). */
const DOWNLOADING = new Set(['download', 'install', 'uninstall']);

/** `{ "error": { code, message, hint?, … } }` on stdout: the --json form of an error. */
function printErrorDocument(err: unknown, hint: string | undefined): void {
  const error = isPatchbayError(err) ? err.toJSON() : { code: 'PB_ERR_INTERNAL', message: errorMessage(err) };
  process.stdout.write(JSON.stringify({ error: hint ? { ...error, hint } : error }, null, 2) + '\n');
}

/** Entry point of bin/patchbay-client.js: returns the exit code (0 ok, 1 failed, 2 usage/config). */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnBrokenPipe(process.stdout);
  endQuietlyOnBrokenPipe(process.stderr);
  const chosen: { invocation?: Invocation } = {};
  const program = commandLine(chosen);
  const exit = parseCommandLine(program, argv, {
    // --json from commander's parsed globals, also when parsing failed: the program reads its own
    // flags wherever they stand before a command's flags are checked, and none of them has a
    // check that throws while they are read (--server's runs in invocationOf); only a value
    // missing at the very end stops the reading, and no --json can follow that.
    onUsageError: (err, hint) => {
      if (program.opts<Flags>().json === true) printErrorDocument(err, hint);
    },
  });
  if (exit !== undefined) return exit;
  // every command has an action, and help, --version and bad usage ended above: one was chosen
  const parsed = chosen.invocation!;
  let session: Session | undefined;
  try {
    session = createSession(parsed.flags, parsed.command);
    session.out = new Output(parsed.flags.json, process.stdout, process.stderr, { quiet: parsed.quiet });
    if (DOWNLOADING.has(parsed.command)) session.out.startProgress();
    // before any command writes under it: an unusable dataDir fails here, at once (exit 2)
    await ensureDataDir(session.config.dataDir);
    const run = await parsed.load();
    const code = await run(session, parsed.args);
    // a refused report (revoked or missing token) was said on stderr; it fails a one-shot command
    // (the daemon goes on and says it at every report)
    const daemon = parsed.command === 'run' && !parsed.args.once;
    return code === 0 && session.reportRefused && !daemon ? 1 : code;
  } catch (err) {
    session?.out.close();
    const usage = isPatchbayError(err) && USAGE_CODES.has(err.code);
    const configFile = parsed.flags.config;
    // what to do next: the key to fix, the command to run, the file to look at
    const hint = nextStep(err, {
      program: PROGRAM,
      command: parsed.command,
      ...(configFile ? { configFile } : {}),
      ...(session ? { hostId: session.config.hostId, dataDir: session.config.dataDir } : {}),
    });
    process.stderr.write(
      formatError(PROGRAM, errorMessage(err), hint, session?.out.errStyle ?? styleFor(process.stderr)),
    );
    if (parsed.flags.json) printErrorDocument(err, hint);
    if (!isPatchbayError(err)) session?.logger.error({ err }, 'unexpected error');
    return usage ? 2 : 1;
  } finally {
    session?.out.close();
    await session?.close();
  }
}
