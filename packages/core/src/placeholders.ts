// Placeholders in install/uninstall argv and detect paths (CONTRACT §1). Expansion
// is a single pass, so a value that itself contains braces is never re-expanded.
import { ErrorCodes, PatchbayError } from './errors.js';
import type { DetectRule } from './types.js';

export interface PlaceholderContext {
  /** verified file name -> absolute path */
  files: Readonly<Record<string, string>>;
  installDir: string;
  release: string;
  patchId: string;
  dataDir: string;
  /**
   * {log}: the installer's own log file (install/uninstall argv only); absent in detect
   * commands and paths, where {log} is refused.
   */
  log?: string;
}

/** What counts as a placeholder; anything else with braces is literal text. */
const PLACEHOLDER = /\{([A-Za-z]+)(?::([^}]*))?\}/g;

const SIMPLE_NAMES = ['installDir', 'release', 'patchId', 'dataDir'] as const;
type SimpleName = (typeof SIMPLE_NAMES)[number];

function isSimpleName(name: string): name is SimpleName {
  return (SIMPLE_NAMES as readonly string[]).includes(name);
}

function expandOne(value: string, ctx: PlaceholderContext, index: number | undefined): string {
  const where = index === undefined ? '' : ` in argv[${index}]`;
  const fail = (placeholder: string, reason: string): never => {
    throw new PatchbayError(
      ErrorCodes.PLACEHOLDER,
      `${reason}${where} of patch ${ctx.patchId}: ${placeholder}`,
      {
        placeholder,
        index,
        patchId: ctx.patchId,
      },
    );
  };
  return value.replace(PLACEHOLDER, (whole: string, name: string, arg: string | undefined) => {
    if (name === 'file') {
      if (arg === undefined || arg === '') return fail(whole, 'placeholder {file:NAME} needs a file name');
      if (!Object.hasOwn(ctx.files, arg)) return fail(whole, `file "${arg}" is not one of the patch's files`);
      return ctx.files[arg] as string;
    }
    if (isSimpleName(name) && arg === undefined) return ctx[name];
    if (name === 'log' && arg === undefined) {
      if (ctx.log === undefined)
        return fail(whole, 'placeholder {log} is for install and uninstall argv only');
      return ctx.log;
    }
    return fail(whole, 'unknown placeholder');
  });
}

/**
 * Expand {file:NAME}, {installDir}, {release}, {patchId}, {dataDir} (and {log} when the
 * context has a log path) in every argv element.
 * An unknown placeholder or a {file:NAME} not in `files` throws PB_ERR_PLACEHOLDER naming it.
 * Text outside braces is kept as is (no shell, no splitting).
 */
export function expandCommand(argv: readonly string[], ctx: PlaceholderContext): string[] {
  return argv.map((arg, index) => expandOne(arg, ctx, index));
}

/** Same rules for a single string (detect paths). */
export function expandString(value: string, ctx: PlaceholderContext): string {
  return expandOne(value, ctx, undefined);
}

/** The strings of a detect rule that placeholders are expanded in: its command, or its path. */
function detectPlaceholderStrings(rule: DetectRule): readonly string[] {
  if ('command' in rule) return rule.command;
  if ('fileExists' in rule) return [rule.fileExists];
  if ('fileSha256' in rule) return [rule.fileSha256.path];
  if ('fileVersion' in rule) return [rule.fileVersion.path];
  return [];
}

/**
 * Why a patch's detect rule cannot be expanded, or undefined: `{log}` is the installer's log of
 * an install or uninstall, and a detect rule has none. Caught when the feed or descriptor is
 * checked, not at every scan (where it would read as "not installed" and reinstall each run).
 */
export function detectPlaceholderProblem(rule: DetectRule | undefined): string | undefined {
  if (!rule) return undefined;
  return detectPlaceholderStrings(rule).some((text) => text.includes('{log}'))
    ? 'placeholder {log} is for install and uninstall argv only'
    : undefined;
}
