// patchbay-publish: makes, signs and checks the TUF repository of docs/tuf-repository.md.
// Exit codes as the other programs: 0 success, 1 the operation ran and failed, 2 bad usage.
// Human output on stdout (--json: one JSON document instead); logs (pino) on stderr; private
// keys are never printed or logged, only their files and key ids.
import { Command, Option, type OptionValues } from 'commander';
import { TOP_LEVEL_ROLES } from '@patchbay/core/tuf';
import {
  endQuietlyOnBrokenPipe,
  ErrorCodes,
  createLogger,
  errorMessage,
  integerOption,
  isPatchbayError,
  isSafeFileName,
  packageVersion,
  parseCommandLine,
  repeatableOption,
  withCommandLineConventions,
  type Logger,
} from '@patchbay/core';
import type { Outcome } from './outcome.js';
import { DEFAULT_EXPIRIES, parseExpiries } from './settings.js';

export const PROGRAM = 'patchbay-publish';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** the clock commands sign with (tests inject one) */
  now: () => Date;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  now: () => new Date(),
};

/** Thrown for a usage error found once the command line is parsed (exit 2). */
class UsageError extends Error {}

function clock(io: CliIo, at: string | undefined): Date {
  if (at === undefined) return io.now();
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--at ${at} is not an RFC 3339 time`);
  return date;
}

/** What a command does, with its options (commander's camelCase names) and arguments. */
type Task = (o: OptionValues, args: string[]) => Promise<Outcome>;

const KEYS = 'directory of the private keys to sign with';

/** The command line (docs/cli.md, "patchbay-publish"): each command records the task main() runs. */
function commandLine(chosen: { task?: () => Promise<Outcome> }, io: CliIo, log: Logger): Command {
  const program = new Command(PROGRAM)
    .description(
      'Make, sign and verify the TUF repository a patchbay staging server mirrors (docs/publisher.md)',
    )
    .option('--json', 'print one JSON document to stdout');
  withCommandLineConventions(program, {
    version: packageVersion(new URL('../package.json', import.meta.url)),
    stdout: io.stdout,
  });
  /** A command; most work on the repository in --repo with the keys in --keys (`keys`: its help). */
  const command = (
    name: string,
    description: string,
    { repo = true, keys = KEYS }: { repo?: boolean; keys?: string | null } = {},
  ): Command => {
    const cmd = program.command(name).description(description);
    if (repo) cmd.requiredOption('--repo <dir>', 'repository directory (metadata/, targets/)');
    return keys === null ? cmd : cmd.requiredOption('--keys <dir>', keys);
  };
  /** The options most commands share: the repository, the keys and the time to sign at. */
  const signing = (o: OptionValues) => ({ repo: o.repo, keys: o.keys, now: io.now() });
  const runs =
    (task: Task) =>
    (...args: unknown[]) => {
      // commander passes (arguments…, options, command): the command is always last
      const cmd = args.at(-1) as Command;
      chosen.task = () => task(cmd.opts(), cmd.args);
    };

  command(
    'init',
    'create a repository: keys into --keys, version 1 of root, targets, snapshot and timestamp',
    { keys: 'directory for the private keys (written mode 0600)' },
  )
    .option('--root-keys <n>', 'root keys to generate', integerOption('--root-keys', 0), 1)
    .option(
      '--root-key <pubfile>',
      'a root public key held elsewhere (repeatable); signs later with sign',
      repeatableOption,
    )
    .option('--root-threshold <k>', 'root signatures required', integerOption('--root-threshold', 1), 1)
    .option('--targets-keys <n>', 'targets keys to generate', integerOption('--targets-keys', 1), 1)
    .option(
      '--targets-threshold <k>',
      'targets signatures required',
      integerOption('--targets-threshold', 1),
      1,
    )
    .option(
      '--targets-key <pubfile>',
      "a targets public key held elsewhere instead of generated ones (repeatable), e.g. a staging server's " +
        'online.key.pub for signing.targets "mirror"; nothing is signed with it here: init writes root version 1 only',
      repeatableOption,
    )
    .option(
      '--online-key <pubfile>',
      "a staging server's online public key, added to snapshot and timestamp (repeatable)",
      repeatableOption,
    )
    .option(
      '--delegation-key <pubfile>',
      'own key for the product release roles instead of the targets keys (repeatable)',
      repeatableOption,
    )
    .option(
      '--delegation-threshold <k>',
      'signatures required on a product release role with --delegation-key',
      integerOption('--delegation-threshold', 1),
      1,
    )
    .option('--vendor <name>', 'vendor name for the targets x-patchbay')
    .option('--no-sign-root', 'leave root version 1 unsigned: every root key holder signs it with sign')
    .option(
      '--existing-keys',
      'take root-N, targets-N, snapshot and timestamp .key/.pub already in --keys instead of generating them',
    )
    .addOption(
      new Option(
        '--expires <spec>',
        'expiry periods, e.g. root=365d,targets=90d,snapshot=14d,timestamp=2d',
      ).argParser((v) => parseExpiries(v)),
    )
    .action(
      runs(async (o) => {
        if (o.rootKeys === 0 && (o.rootKey ?? []).length === 0)
          throw new UsageError('init needs --root-keys N (N >= 1) or --root-key PUBFILE');
        return (await import('./commands/init.js')).init({
          ...signing(o),
          rootKeys: o.rootKeys,
          rootKeyFiles: o.rootKey ?? [],
          rootThreshold: o.rootThreshold,
          targetsKeys: o.targetsKeys,
          targetsThreshold: o.targetsThreshold,
          targetsKeyFiles: o.targetsKey ?? [],
          onlineKeyFiles: o.onlineKey ?? [],
          delegationKeyFiles: o.delegationKey ?? [],
          delegationThreshold: o.delegationThreshold,
          vendor: o.vendor,
          expires: o.expires ?? DEFAULT_EXPIRIES,
          signRoot: o.signRoot,
          existingKeys: o.existingKeys === true,
        });
      }),
    );

  command('add', 'publish one patch: PATCH.json (a feed patch; files by name only) and its FILEs')
    .argument('<file...>', "the patch's files")
    .requiredOption('--patch <file>', 'the patch as JSON (CONTRACT §1 patch, files without url/size/sha256)')
    .option('--vendor <name>', 'vendor name (required while the repository names none)')
    .option('--product-name <name>', 'display name of the product when it is new')
    .action(
      runs(async (o, files) =>
        (await import('./commands/add.js')).add({
          ...signing(o),
          patchFile: o.patch,
          files,
          vendor: o.vendor,
          productName: o.productName,
        }),
      ),
    );

  command('sign', 'add one signature, by one key, to the newest version of a role', { keys: null })
    .requiredOption(
      '--role <role>',
      'root, targets, snapshot, timestamp or a product release role (<product>~<release>)',
    )
    .requiredOption('--key <file>', 'the private key file to sign with')
    .option('--keys <dir>', 'keys directory: publish a new snapshot and timestamp over the signed role')
    .action(
      runs(async (o) =>
        (await import('./commands/sign.js')).sign({ ...signing(o), role: o.role, keyFile: o.key }),
      ),
    );

  command('rotate', 'write root version N+1 with a new key set for a role, signed by the keys held')
    .addOption(
      new Option('--role <role>', 'the role to re-key').choices(TOP_LEVEL_ROLES).makeOptionMandatory(),
    )
    .option('--add-key <pubfile>', 'public key to add (repeatable)', repeatableOption)
    .option('--remove-key <keyid>', 'key id to remove (repeatable)', repeatableOption)
    .option('--threshold <k>', 'new threshold', integerOption('--threshold', 1))
    .action(
      runs(async (o) =>
        (await import('./commands/rotate.js')).rotate({
          ...signing(o),
          role: o.role,
          addKeyFiles: o.addKey ?? [],
          removeKeyIds: o.removeKey ?? [],
          threshold: o.threshold,
        }),
      ),
    );

  const refresh =
    (role: 'snapshot' | 'timestamp'): Task =>
    async (o) =>
      (await import('./commands/refresh.js')).refresh({ ...signing(o), role });
  command('snapshot', 'sign a new snapshot over the current targets roles, then a new timestamp').action(
    runs(refresh('snapshot')),
  );
  command('timestamp', 'sign a new timestamp for the current snapshot').action(runs(refresh('timestamp')));

  command(
    'renew',
    'new versions, same content, of the targets roles that expire soon (then snapshot and timestamp): run it on a schedule',
  )
    .option(
      '--within <days>',
      'renew roles expiring within this many days (default: a third of the targets period)',
      integerOption('--within', 0),
    )
    .option(
      '--role <role>',
      'renew this role whatever its expiry: targets or <product>~<release> (repeatable)',
      repeatableOption,
    )
    .action(
      runs(async (o) =>
        (await import('./commands/renew.js')).renew({
          ...signing(o),
          ...(o.within !== undefined ? { withinDays: o.within as number } : {}),
          ...(o.role ? { roles: o.role as string[] } : {}),
        }),
      ),
    );

  command('verify', 'verify a repository directory as a client would; every reason is printed', {
    repo: false,
    keys: null,
  })
    .argument('<dir>', 'repository directory')
    .option('--root <file>', 'trusted root metadata to start from (default: trust metadata/1.root.json)')
    .option('--at <time>', 'check expiry at this time instead of now (RFC 3339)')
    .action(
      runs(async (o, [repo]) =>
        (await import('./commands/verify.js')).verify({
          repo: repo!,
          rootFile: o.root,
          now: clock(io, o.at),
        }),
      ),
    );

  command('import-feed', 'publish every patch of a patchbay-feed/1 (URL or directory) as signed targets')
    .requiredOption('--feed <url-or-dir>', 'feed directory, its URL, or the URL of its feed.json')
    .option('--vendor-key <pubfile>', "the vendor's Ed25519 public key: feed.json.sig must verify")
    .option('--concurrency <n>', 'files fetched at once', integerOption('--concurrency', 1), 4)
    .action(
      runs(async (o) =>
        (await import('./commands/import-feed.js')).importFeed({
          ...signing(o),
          feed: o.feed,
          vendorKeyFile: o.vendorKey,
          concurrency: o.concurrency,
          log,
        }),
      ),
    );

  command('keygen', 'generate one key pair, <name>.key (0600) and <name>.pub, e.g. for a root key holder', {
    repo: false,
    keys: 'directory to write the key files into',
  })
    .requiredOption('--name <name>', 'file name stem')
    .action(
      runs(async (o) => {
        if (!isSafeFileName(o.name)) throw new UsageError(`--name ${o.name} must be a plain file name`);
        return (await import('./commands/keygen.js')).keygen({ keys: o.keys, name: o.name });
      }),
    );
  return program;
}

/** `{ ok: false, error }`: the --json form of an error. */
function errorDocument(err: unknown): string {
  const error = isPatchbayError(err) ? err.toJSON() : { message: errorMessage(err) };
  return `${JSON.stringify({ ok: false, error }, null, 2)}\n`;
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  endQuietlyOnBrokenPipe(process.stdout);
  endQuietlyOnBrokenPipe(process.stderr);
  const log = createLogger({ name: PROGRAM, level: 'warn' });
  const chosen: { task?: () => Promise<Outcome> } = {};
  const program = commandLine(chosen, io, log);
  // --json is a global flag: commander has read it wherever it stands before any usage error
  const json = (): boolean => program.opts<{ json?: true }>().json === true;
  const exit = parseCommandLine(program, argv, {
    stderr: io.stderr,
    onUsageError: (err) => {
      if (json()) io.stdout(errorDocument(err));
    },
  });
  if (exit !== undefined) return exit;
  let outcome: Outcome;
  try {
    // every command has an action, and help, --version and bad usage ended above: one was chosen
    outcome = await chosen.task!();
  } catch (err) {
    const usage =
      err instanceof UsageError ||
      isPatchbayError(err, ErrorCodes.USAGE) ||
      isPatchbayError(err, ErrorCodes.CONFIG) ||
      isPatchbayError(err, ErrorCodes.KEY_FILE);
    if (!isPatchbayError(err) && !(err instanceof UsageError)) log.error({ err }, 'command failed');
    if (json()) io.stdout(errorDocument(err));
    io.stderr(`${PROGRAM}: ${errorMessage(err)}\n`);
    return usage ? 2 : 1;
  }
  if (json()) io.stdout(`${JSON.stringify({ ok: outcome.ok, ...outcome.json }, null, 2)}\n`);
  else io.stdout(`${outcome.lines.join('\n')}\n`);
  return outcome.ok ? 0 : 1;
}
