// The conventions every patchbay program's command line (commander) shares, written once:
// usage errors printed as `PROGRAM: message` and a hint with exit 2 (CONTRACT §3, docs/cli.md),
// help per command, --version, flag value parsers. Core does not depend on commander: it calls a
// program's methods through structural types and reads the documented `code` of a
// CommanderError ("commander.unknownOption", …).
import { readFileSync } from 'node:fs';
import { ErrorCodes, isPatchbayError, PatchbayError } from '../errors.js';
import { formatError, usageHint } from './next-step.js';
import { createStyle, styleFor } from './terminal.js';

/** The commander methods the conventions call (a commander Command is one). */
export interface ConventionalProgram<T> {
  exitOverride(): T;
  configureOutput(output: {
    writeOut: (text: string) => void;
    writeErr: (text: string) => void;
    outputError: (text: string, write: (text: string) => void) => void;
  }): T;
  configureHelp(help: { showGlobalOptions: boolean }): T;
  version(version: string, flags: string, description: string): T;
}

/**
 * patchbay's conventions on a commander program, set before its commands are added (they
 * inherit them): parse errors, help and --version are thrown (exitOverride) for
 * parseCommandLine() to tell apart, and commander prints no error text of its own;
 * help and `--version` go to `stdout`; a command's help lists the global flags too.
 */
export function withCommandLineConventions<T extends ConventionalProgram<T>>(
  program: T,
  options: { version: string; stdout: (text: string) => void },
): T {
  const silent = (): void => undefined;
  return (
    program
      .exitOverride()
      // writeErr carries only the help commander prints when COMMAND is missing: a usage error too
      .configureOutput({ writeOut: options.stdout, writeErr: silent, outputError: silent })
      .configureHelp({ showGlobalOptions: true })
      .version(options.version, '--version', 'print the version')
  );
}

/** The commander methods parseCommandLine() calls. */
export interface ParsingProgram {
  name(): string;
  parse(argv: string[], options: { from: 'user' }): unknown;
  hook(event: 'preSubcommand', listener: (program: unknown, subcommand: { name(): string }) => void): unknown;
}

/**
 * Parses `argv` with a program set up by withCommandLineConventions() whose actions only record
 * what was chosen (or throw PB_ERR_USAGE). Undefined when a command was chosen; otherwise the exit
 * code once printed: 0 after help or the version, 2 for bad usage, printed as
 * `PROGRAM: message` and a hint pointing at the --help of the command given (or the program's),
 * then handed to `onUsageError` (for a --json error document).
 */
export function parseCommandLine(
  program: ParsingProgram,
  argv: readonly string[],
  options: {
    stderr?: (text: string) => void;
    onUsageError?: (err: PatchbayError, hint: string) => void;
  } = {},
): number | undefined {
  let command: string | undefined;
  // known before the command's own flags are parsed, so a usage error there names it
  program.hook('preSubcommand', (_program, subcommand) => {
    command = subcommand.name();
  });
  try {
    program.parse([...argv], { from: 'user' });
    return undefined;
  } catch (err) {
    const outcome = commandLineOutcome(err) ?? err;
    if (outcome === 'printed') return 0;
    if (!isPatchbayError(outcome, ErrorCodes.USAGE)) throw outcome;
    const hint = usageHint(program.name(), command);
    const { stderr } = options;
    const style = stderr ? createStyle(false) : styleFor(process.stderr);
    const text = formatError(program.name(), outcome.message, hint, style);
    if (stderr) stderr(text);
    else process.stderr.write(text);
    options.onUsageError?.(outcome, hint);
    return 2;
  }
}

interface CommanderErrorShape {
  code: string;
  exitCode: number;
  message: string;
}

function isCommanderError(err: unknown): err is CommanderErrorShape {
  const { code, exitCode } = (err ?? {}) as Partial<CommanderErrorShape>;
  return (
    err instanceof Error &&
    typeof code === 'string' &&
    code.startsWith('commander.') &&
    typeof exitCode === 'number'
  );
}

/**
 * What an error thrown by commander's parse (under exitOverride()) means for a patchbay program:
 * 'printed' when it printed help or the version (exit 0); a PB_ERR_USAGE error naming the flag,
 * argument or command for bad usage (exit 2); undefined when `err` is not commander's.
 */
function commandLineOutcome(err: unknown): 'printed' | PatchbayError | undefined {
  if (!isCommanderError(err)) return undefined;
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 'printed';
  // help({ error: true }) is commander's answer to a program run without its COMMAND
  if (err.code === 'commander.help' && err.exitCode === 0) return 'printed';
  if (err.code === 'commander.help') return new PatchbayError(ErrorCodes.USAGE, 'missing COMMAND');
  // "error: unknown option '--jsn'\n(Did you mean --json?)" → one line, without commander's prefix
  const message = err.message.replace(/^error: /, '').replace(/\n+/g, ' ');
  return new PatchbayError(ErrorCodes.USAGE, message, { reason: err.code.slice('commander.'.length) });
}

/**
 * A commander argParser for an integer flag value in [min, max]; PB_ERR_USAGE naming the flag
 * otherwise (commander passes that error through as it is).
 */
export function integerOption(
  flag: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw new PatchbayError(ErrorCodes.USAGE, `${flag} must be an integer ${range}, got "${value}"`, {
        flag,
      });
    }
    return n;
  };
}

/** A commander argParser for a repeatable flag: every value, in order. */
export function repeatableOption(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

/** The version in the package.json at `url`: a program's --version. */
export function packageVersion(url: URL): string {
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
