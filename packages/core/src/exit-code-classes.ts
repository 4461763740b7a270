// What an install/uninstall command's exit code means, per patch (its CommandSpec, signed
// with it): success, success that needs a reboot (Windows Installer 3010, 1641), or "try
// again later" (1618: another installation is in progress). Any other code is a failure.
import type { CommandSpec, FeedPatch } from './types.js';

export type ExitCodeClass = 'success' | 'reboot' | 'retry';

/** The lists of a CommandSpec that give an exit code a class, with their class. */
const LISTS = [
  ['successExitCodes', 'success'],
  ['rebootExitCodes', 'reboot'],
  ['retryExitCodes', 'retry'],
] as const;

type ListName = (typeof LISTS)[number][0];

/**
 * An exit code as the 32-bit unsigned DWORD Windows returns: the schema lets a feed write one as
 * -1 or 4294967295, and both are the same code (POSIX's 0-255 are unchanged).
 */
const asDword = (code: number): number => code >>> 0;

/** A list as the client applies it (successExitCodes: [0] when the feed gives none), as DWORDs. */
function codesOf(spec: CommandSpec, list: ListName): readonly number[] {
  return (spec[list] ?? (list === 'successExitCodes' ? [0] : [])).map(asDword);
}

/** The class of `code` under `spec`, or undefined (a failure). */
export function exitCodeClass(spec: CommandSpec, code: number): ExitCodeClass | undefined {
  for (const [list, cls] of LISTS) if (codesOf(spec, list).includes(asDword(code))) return cls;
  return undefined;
}

interface ExitCodeConflict {
  code: number;
  /** the two lists naming it, in LISTS order; "successExitCodes (default [0])" when not given */
  lists: [string, string];
}

/** The first code two of the lists name (a feed that does so is refused), or undefined. */
function exitCodeConflict(spec: CommandSpec): ExitCodeConflict | undefined {
  const seen = new Map<number, string>();
  for (const [list] of LISTS) {
    const label = list === 'successExitCodes' && !spec[list] ? `${list} (default [0])` : list;
    for (const code of new Set(codesOf(spec, list))) {
      const earlier = seen.get(code);
      if (earlier !== undefined) return { code, lists: [earlier, label] };
      seen.set(code, label);
    }
  }
  return undefined;
}

/** The first conflict in a patch's install or uninstall lists, with the action and its wording. */
export function patchExitCodeConflict(
  patch: Pick<FeedPatch, 'install' | 'uninstall'>,
): { action: 'install' | 'uninstall'; conflict: ExitCodeConflict; text: string } | undefined {
  for (const action of ['install', 'uninstall'] as const) {
    const spec = patch[action];
    const conflict = spec && exitCodeConflict(spec);
    if (conflict) {
      const text = `exit code ${conflict.code} is in both ${conflict.lists[0]} and ${conflict.lists[1]}`;
      return { action, conflict, text };
    }
  }
  return undefined;
}
