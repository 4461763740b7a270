// The shared commander conventions (cli-output/command-line.ts), without commander: a program
// whose parse throws what commander throws under exitOverride(). The programs' own tests run
// the real thing (a child process of each bin).
import t from 'tap';
import {
  ErrorCodes,
  PatchbayError,
  integerOption,
  parseCommandLine,
  repeatableOption,
  type ParsingProgram,
} from '@patchbay/core';

/** commander's CommanderError, as far as parseCommandLine reads it. */
function commanderError(code: string, exitCode: number, message: string): Error {
  return Object.assign(new Error(message), { code, exitCode });
}

/** A program named `prog` whose parse enters `command` (when given), then throws `thrown`. */
function program(thrown: unknown, command?: string): ParsingProgram {
  let onSubcommand: ((program: unknown, subcommand: { name(): string }) => void) | undefined;
  return {
    name: () => 'prog',
    hook: (_event, listener) => (onSubcommand = listener),
    parse: () => {
      if (command) onSubcommand?.(undefined, { name: () => command });
      if (thrown) throw thrown;
    },
  };
}

function parse(thrown: unknown, command?: string) {
  let stderr = '';
  const errors: [PatchbayError, string][] = [];
  const exit = parseCommandLine(program(thrown, command), [], {
    stderr: (text) => (stderr += text),
    onUsageError: (err, hint) => errors.push([err, hint]),
  });
  return { exit, stderr, errors };
}

t.test('help and --version are exit 0 with nothing printed by patchbay', async (t) => {
  for (const [code, exitCode] of [
    ['commander.helpDisplayed', 0],
    ['commander.version', 0],
    ['commander.help', 0],
  ] as const) {
    t.same(parse(commanderError(code, exitCode, '(outputHelp)')), { exit: 0, stderr: '', errors: [] }, code);
  }
  t.same(parse(undefined), { exit: undefined, stderr: '', errors: [] }, 'a command was chosen');
});

t.test(
  "bad usage: exit 2, commander's message without its prefix, the hint names the command's help",
  async (t) => {
    const unknown = parse(
      commanderError('commander.unknownOption', 1, "error: unknown option '--jsn'\n(Did you mean --json?)"),
      'sync',
    );
    t.equal(unknown.exit, 2);
    t.equal(
      unknown.stderr,
      'prog: unknown option \'--jsn\' (Did you mean --json?)\nprog: hint: run "prog sync --help" for usage\n',
    );
    t.equal(unknown.errors.length, 1);
    t.match(unknown.errors[0]![0], { code: ErrorCodes.USAGE, context: { reason: 'unknownOption' } });
    t.equal(unknown.errors[0]![1], 'run "prog sync --help" for usage');

    const missing = parse(commanderError('commander.help', 1, '(outputHelp)'));
    t.equal(missing.exit, 2, 'no COMMAND: commander shows help as an error; patchbay says it');
    t.equal(missing.stderr, 'prog: missing COMMAND\nprog: hint: run "prog --help" for usage\n');

    const ours = parse(
      new PatchbayError(ErrorCodes.USAGE, '--port must be an integer from 0 to 65535, got "x"'),
    );
    t.equal(ours.exit, 2, "a flag parser's PB_ERR_USAGE");
    t.match(ours.stderr, /^prog: --port must be/);
  },
);

t.test('any other error is not bad usage: thrown as it is', async (t) => {
  const bug = new TypeError('a bug');
  t.throws(() => parse(bug), bug);
  t.throws(() => parse(new PatchbayError(ErrorCodes.CONFIG, 'bad key')), { code: ErrorCodes.CONFIG });
});

t.test('integerOption and repeatableOption', async (t) => {
  const port = integerOption('--port', 0, 65535);
  t.equal(port('0'), 0);
  t.equal(port('65535'), 65535);
  for (const bad of ['65536', '-1', '1.5', 'x', ''])
    t.throws(() => port(bad), {
      code: ErrorCodes.USAGE,
      message: `--port must be an integer from 0 to 65535, got "${bad}"`,
    });
  t.throws(() => integerOption('--sequence', 1)('0'), {
    message: '--sequence must be an integer >= 1, got "0"',
  });
  t.same(repeatableOption('b', repeatableOption('a')), ['a', 'b']);
});
