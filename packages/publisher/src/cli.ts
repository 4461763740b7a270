// patchbay-publish: makes, signs and checks the TUF repository of docs/tuf-repository.md.
// Exit codes as the other programs: 0 success, 1 the operation ran and failed, 2 bad usage.
// Human output on stdout (--json: one JSON document instead); logs (pino) on stderr; private
// keys are never printed or logged, only their files and key ids.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ErrorCodes, createLogger, errorMessage, isPatchbayError, isSafeFileName } from '@patchbay/core';
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

/** Thrown for a usage error found while building the command line (exit 2). */
class UsageError extends Error {}

function integer(name: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    }
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function clock(io: CliIo, at: string | undefined): Date {
  if (at === undefined) return io.now();
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--at ${at} is not an RFC 3339 time`);
  return date;
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let outcome: Outcome | undefined;
  let json = false;
  const log = createLogger({ name: PROGRAM, level: 'warn' });
  // commander passes (arguments..., options, command): the command is always last.
  const run =
    (task: (cmd: Command) => Promise<Outcome>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      json = Boolean(cmd.optsWithGlobals().json);
      outcome = await task(cmd);
    };

  const program = new Command(PROGRAM)
    .description(
      'Make, sign and verify the TUF repository a patchbay staging server mirrors (docs/publisher.md)',
    )
    .option('--json', 'print one JSON document to stdout')
    .showHelpAfterError('(run patchbay-publish --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .configureHelp({ showGlobalOptions: true });
  program.version(await packageVersion(), '--version');

  const expiresOption = () =>
    new Option(
      '--expires <spec>',
      'expiry periods, e.g. root=365d,targets=90d,snapshot=14d,timestamp=2d',
    ).argParser((v) => parseExpiries(v));

  program
    .command('init')
    .description('create a repository: keys into --keys, version 1 of root, targets, snapshot and timestamp')
    .requiredOption('--repo <dir>', 'repository directory (metadata/, targets/)')
    .requiredOption('--keys <dir>', 'directory for the private keys (written mode 0600)')
    .option('--root-keys <n>', 'root keys to generate', integer('--root-keys', 0), 1)
    .option(
      '--root-key <pubfile>',
      'a root public key held elsewhere (repeatable); signs later with sign',
      collect,
      [],
    )
    .option('--root-threshold <k>', 'root signatures required', integer('--root-threshold', 1), 1)
    .option('--targets-keys <n>', 'targets keys to generate', integer('--targets-keys', 1), 1)
    .option('--targets-threshold <k>', 'targets signatures required', integer('--targets-threshold', 1), 1)
    .option(
      '--targets-key <pubfile>',
      "a targets public key held elsewhere instead of generated ones (repeatable), e.g. a staging server's " +
        'online.key.pub for signing.targets "mirror"; nothing is signed with it here: init writes root version 1 only',
      collect,
      [],
    )
    .option(
      '--online-key <pubfile>',
      "a staging server's online public key, added to snapshot and timestamp (repeatable)",
      collect,
      [],
    )
    .option(
      '--delegation-key <pubfile>',
      'own key for the product release roles instead of the targets keys (repeatable)',
      collect,
      [],
    )
    .option(
      '--delegation-threshold <k>',
      'signatures required on a product release role with --delegation-key',
      integer('--delegation-threshold', 1),
      1,
    )
    .option('--vendor <name>', 'vendor name for the targets x-patchbay')
    .option('--no-sign-root', 'leave root version 1 unsigned: every root key holder signs it with sign')
    .option(
      '--existing-keys',
      'take root-N, targets-N, snapshot and timestamp .key/.pub already in --keys instead of generating them',
    )
    .addOption(expiresOption())
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        if (o.rootKeys === 0 && o.rootKey.length === 0)
          throw new UsageError('init needs --root-keys N (N >= 1) or --root-key PUBFILE');
        const { init } = await import('./commands/init.js');
        return init({
          repo: o.repo,
          keys: o.keys,
          rootKeys: o.rootKeys,
          rootKeyFiles: o.rootKey,
          rootThreshold: o.rootThreshold,
          targetsKeys: o.targetsKeys,
          targetsThreshold: o.targetsThreshold,
          targetsKeyFiles: o.targetsKey,
          onlineKeyFiles: o.onlineKey,
          delegationKeyFiles: o.delegationKey,
          delegationThreshold: o.delegationThreshold,
          vendor: o.vendor,
          expires: o.expires ?? DEFAULT_EXPIRIES,
          signRoot: o.signRoot,
          existingKeys: o.existingKeys === true,
          now: io.now(),
        });
      }),
    );

  program
    .command('add')
    .description('publish one patch: PATCH.json (a feed patch; files by name only) and its FILEs')
    .argument('<file...>', "the patch's files")
    .requiredOption('--repo <dir>', 'repository directory')
    .requiredOption('--keys <dir>', 'directory of the private keys to sign with')
    .requiredOption('--patch <file>', 'the patch as JSON (CONTRACT §1 patch, files without url/size/sha256)')
    .option('--vendor <name>', 'vendor name (required while the repository names none)')
    .option('--product-name <name>', 'display name of the product when it is new')
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        const { add } = await import('./commands/add.js');
        return add({
          repo: o.repo,
          keys: o.keys,
          patchFile: o.patch,
          files: cmd.args,
          vendor: o.vendor,
          productName: o.productName,
          now: io.now(),
        });
      }),
    );

  program
    .command('sign')
    .description('add one signature, by one key, to the newest version of a role')
    .requiredOption('--repo <dir>', 'repository directory')
    .requiredOption(
      '--role <role>',
      'root, targets, snapshot, timestamp or a product release role (<product>~<release>)',
    )
    .requiredOption('--key <file>', 'the private key file to sign with')
    .option('--keys <dir>', 'keys directory: publish a new snapshot and timestamp over the signed role')
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        const { sign } = await import('./commands/sign.js');
        return sign({ repo: o.repo, role: o.role, keyFile: o.key, keys: o.keys, now: io.now() });
      }),
    );

  program
    .command('rotate')
    .description('write root version N+1 with a new key set for a role, signed by the keys held')
    .requiredOption('--repo <dir>', 'repository directory')
    .requiredOption('--keys <dir>', 'directory of the private keys to sign with')
    .requiredOption('--role <role>', 'root, targets, snapshot or timestamp')
    .option('--add-key <pubfile>', 'public key to add (repeatable)', collect, [])
    .option('--remove-key <keyid>', 'key id to remove (repeatable)', collect, [])
    .option('--threshold <k>', 'new threshold', integer('--threshold', 1))
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        const { rotate } = await import('./commands/rotate.js');
        return rotate({
          repo: o.repo,
          keys: o.keys,
          role: o.role,
          addKeyFiles: o.addKey,
          removeKeyIds: o.removeKey,
          threshold: o.threshold,
          now: io.now(),
        });
      }),
    );

  for (const role of ['snapshot', 'timestamp'] as const) {
    program
      .command(role)
      .description(
        role === 'snapshot'
          ? 'sign a new snapshot over the current targets roles, then a new timestamp'
          : 'sign a new timestamp for the current snapshot',
      )
      .requiredOption('--repo <dir>', 'repository directory')
      .requiredOption('--keys <dir>', 'directory of the private keys to sign with')
      .action(
        run(async (cmd) => {
          const o = cmd.opts();
          const { refresh } = await import('./commands/refresh.js');
          return refresh({ repo: o.repo, keys: o.keys, role, now: io.now() });
        }),
      );
  }

  program
    .command('renew')
    .description(
      'new versions, same content, of the targets roles that expire soon (then snapshot and timestamp): run it on a schedule',
    )
    .requiredOption('--repo <dir>', 'repository directory')
    .requiredOption('--keys <dir>', 'directory of the private keys to sign with')
    .option(
      '--within <days>',
      'renew roles expiring within this many days (default: a third of the targets period)',
      integer('--within', 0),
    )
    .option(
      '--role <role>',
      'renew this role whatever its expiry: targets or <product>~<release> (repeatable)',
      collect,
    )
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        const { renew } = await import('./commands/renew.js');
        return renew({
          repo: o.repo,
          keys: o.keys,
          ...(o.within !== undefined ? { withinDays: o.within as number } : {}),
          ...(o.role ? { roles: o.role as string[] } : {}),
          now: io.now(),
        });
      }),
    );

  program
    .command('verify')
    .description('verify a repository directory as a client would; every reason is printed')
    .argument('<dir>', 'repository directory')
    .option('--root <file>', 'trusted root metadata to start from (default: trust metadata/1.root.json)')
    .option('--at <time>', 'check expiry at this time instead of now (RFC 3339)')
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        const { verify } = await import('./commands/verify.js');
        return verify({ repo: cmd.args[0]!, rootFile: o.root, now: clock(io, o.at) });
      }),
    );

  program
    .command('import-feed')
    .description('publish every patch of a patchbay-feed/1 (URL or directory) as signed targets')
    .requiredOption('--feed <url-or-dir>', 'feed directory, its URL, or the URL of its feed.json')
    .option('--vendor-key <pubfile>', "the vendor's Ed25519 public key: feed.json.sig must verify")
    .requiredOption('--repo <dir>', 'repository directory')
    .requiredOption('--keys <dir>', 'directory of the private keys to sign with')
    .option('--concurrency <n>', 'files fetched at once', integer('--concurrency', 1), 4)
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        const { importFeed } = await import('./commands/import-feed.js');
        return importFeed({
          feed: o.feed,
          vendorKeyFile: o.vendorKey,
          repo: o.repo,
          keys: o.keys,
          concurrency: o.concurrency,
          now: io.now(),
          log,
        });
      }),
    );

  program
    .command('keygen')
    .description('generate one key pair, <name>.key (0600) and <name>.pub, e.g. for a root key holder')
    .requiredOption('--keys <dir>', 'directory to write the key files into')
    .requiredOption('--name <name>', 'file name stem')
    .action(
      run(async (cmd) => {
        const o = cmd.opts();
        if (!isSafeFileName(o.name)) throw new UsageError(`--name ${o.name} must be a plain file name`);
        const { keygen } = await import('./commands/keygen.js');
        return keygen({ keys: o.keys, name: o.name });
      }),
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version "fail" with code 0
      if (err.exitCode === 0) return 0;
      return 2;
    }
    const usage =
      err instanceof UsageError ||
      isPatchbayError(err, ErrorCodes.USAGE) ||
      isPatchbayError(err, ErrorCodes.CONFIG) ||
      isPatchbayError(err, ErrorCodes.KEY_FILE);
    const message = `${PROGRAM}: ${errorMessage(err)}`;
    if (!isPatchbayError(err) && !(err instanceof UsageError)) log.error({ err }, 'command failed');
    if (json) io.stdout(`${JSON.stringify({ ok: false, error: errorJson(err) }, null, 2)}\n`);
    io.stderr(`${message}\n`);
    return usage ? 2 : 1;
  }
  if (!outcome) return 0;
  if (json) io.stdout(`${JSON.stringify({ ok: outcome.ok, ...outcome.json }, null, 2)}\n`);
  else io.stdout(`${outcome.lines.join('\n')}\n`);
  return outcome.ok ? 0 : 1;
}

function errorJson(err: unknown): Record<string, unknown> {
  if (isPatchbayError(err)) return err.toJSON();
  return { message: errorMessage(err) };
}

async function packageVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
