// patchbay-server's command line (CONTRACT §3, docs/cli.md): the global flags, then one entry
// per command. It only reads what was asked for; cli.ts runs it.
import { Command, Option } from 'commander';
import {
  integerOption,
  parseCommandLine,
  repeatableOption,
  withCommandLineConventions,
  type DeepPartial,
  type ServerConfig,
} from '@patchbay/core';
import { hostIdArgument } from './auth/token-usage.js';
import type { ExportFlags } from './exchange/export-cli.js';
import { SERVER_VERSION } from './http/version.js';

export const PROGRAM = 'patchbay-server';

/** What the command line asked for; main() runs it. */
export interface Invocation {
  command: string;
  args: string[];
  json: boolean;
  quiet: boolean;
  configFile: string | undefined;
  overrides: DeepPartial<ServerConfig>;
  keygen: { force: boolean; rotate: boolean };
  /** enroll --branch: a branch's rollup token rather than a host's report token */
  branch: boolean;
  /** gc and export options (export validates --since and --chunk-size itself) */
  exchange: ExportFlags;
}

/** commander's option values: the global flags and those of the chosen command. */
interface Flags {
  config?: string;
  upstream?: string;
  dataDir?: string;
  host?: string;
  port?: number;
  json?: boolean;
  quiet?: boolean;
  force?: boolean;
  rotate?: boolean;
  branch?: boolean;
  dryRun?: boolean;
  product?: string[];
  release?: string[];
  since?: string;
  chunkSize?: string;
}

/** The command line (docs/cli.md): the global flags, then one entry per command. */
function commandLine(chosen: { invocation?: Invocation }): Command {
  const program = new Command(PROGRAM)
    .usage(
      '[--config FILE] [--upstream URL] [--data-dir DIR] [--host H] [--port N] [--json] [--quiet] COMMAND',
    )
    .description("The staging server: mirrors a vendor feed and serves it and its clients' reports.")
    .option('--config <FILE>', 'JSON config file (see docs/config.md)')
    .option('--upstream <URL>', 'vendor feed URL (https:, http: or file:), overrides upstream.url')
    .option('--data-dir <DIR>', 'data directory, overrides dataDir')
    .option('--host <H>', 'listen address, overrides listen.host')
    .option(
      '--port <N>',
      'listen port (0 = any free port), overrides listen.port',
      integerOption('--port', 0, 65535),
    )
    .option('--json', 'print one JSON document to stdout')
    .option('-q, --quiet', 'no progress bar (sync shows one when stderr is a terminal)')
    .addHelpText(
      'after',
      '\nFlags may stand before or after COMMAND. Colour only on a terminal, never with NO_COLOR set.',
    );
  withCommandLineConventions(program, {
    version: SERVER_VERSION,
    stdout: (text) => process.stdout.write(text),
  });
  const command = (name: string, description: string): Command =>
    program
      .command(name)
      .description(description)
      .action((...args: unknown[]) => {
        // commander passes (arguments…, options, command): the command is always last
        chosen.invocation = invocationOf(args.at(-1) as Command);
      });

  command('serve', 'run the server: sync at start and on schedule, serve the HTTP API');
  command('sync', 'one sync, then exit (0 ok, 1 failed or partial)');
  command(
    'notify-test',
    'send a test mail with the notify settings; print the SMTP answer (0 accepted, 1 refused or failed, 2 notify not configured)',
  );
  command('gc', 'remove blobs no catalog needs any more').option(
    '--dry-run',
    'only report what would be removed',
  );
  command(
    'import',
    'add an export (directory or .tar) or a feed directory to the mirror, verified as a sync verifies',
  ).argument('<PATH>', 'the export, its .tar or parts, or a feed directory');
  command('export', 'write the published mirror as a feed directory another server can use as its upstream')
    .argument('<DIR>', 'a new or empty directory')
    .option('--product <ID>', 'only this product (repeatable)', repeatableOption)
    .option('--release <R>', 'only this release (repeatable)', repeatableOption)
    .option('--since <SEQUENCE>', 'only the files new since that mirror sequence (incremental)')
    .option('--chunk-size <SIZE>', 'tar parts of at most SIZE (650M, 4G, 4.7GB or bytes), one per medium')
    .option('--dry-run', 'print the bytes it would write; write nothing');
  command(
    'keygen',
    "create the mirror's signing key pair, and the online key (TUF snapshot and timestamp) when absent",
  )
    .addOption(new Option('--force', 'replace an existing mirror key').conflicts('rotate'))
    .option('--rotate', 'replace it with an endorsement by the old key (docs/security.md "Key rotation")');
  command('enroll', "issue a host's report token (printed once; replaces an earlier one)")
    .argument('<HOSTID>', 'the host (with --branch: the branch staging server)', hostIdArgument)
    .option('--branch', "a branch staging server's rollup token instead (rollup.token there)");
  command('revoke', "withdraw a host's (or branch's) token (exit 1 when it had none)").argument(
    '<HOSTID>',
    'the host or branch',
    hostIdArgument,
  );
  return program;
}

function invocationOf(command: Command): Invocation {
  const flags = command.optsWithGlobals<Flags>();
  const overrides: DeepPartial<ServerConfig> = {};
  if (flags.upstream !== undefined) overrides.upstream = { url: flags.upstream };
  if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
  if (flags.host !== undefined || flags.port !== undefined) {
    overrides.listen = {};
    if (flags.host !== undefined) overrides.listen.host = flags.host;
    if (flags.port !== undefined) overrides.listen.port = flags.port;
  }
  return {
    command: command.name(),
    args: command.processedArgs as string[],
    json: flags.json === true,
    quiet: flags.quiet === true,
    configFile: flags.config,
    overrides,
    keygen: { force: flags.force === true, rotate: flags.rotate === true },
    branch: flags.branch === true,
    exchange: {
      dryRun: flags.dryRun === true,
      products: flags.product ?? [],
      releases: flags.release ?? [],
      since: flags.since,
      chunkSize: flags.chunkSize,
    },
  };
}

/** What the command line asks for; or the exit code once help, --version or bad usage was printed. */
export function readCommandLine(argv: string[]): Invocation | number {
  const chosen: { invocation?: Invocation } = {};
  // every command has an action, and help, --version and bad usage end the parse: one was chosen
  return parseCommandLine(commandLine(chosen), argv) ?? chosen.invocation!;
}
