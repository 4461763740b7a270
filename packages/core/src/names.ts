import { ErrorCodes, PatchbayError } from './errors.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True for a lowercase 64-hex SHA-256 digest. */
export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/** Throws PB_ERR_BAD_DIGEST unless `value` is a lowercase 64-hex digest. */
export function assertSha256Hex(value: string, what = 'digest'): string {
  if (!isSha256Hex(value)) {
    throw new PatchbayError(ErrorCodes.BAD_DIGEST, `${what} must be 64 lowercase hex characters`, { value });
  }
  return value;
}

/** Windows' device names: `NUL`, `NUL.txt`, `com¹.log` all open the device, not a file. */
const WINDOWS_DEVICE_NAME = /^(CON|PRN|AUX|NUL|COM[1-9¹²³]|LPT[1-9¹²³])$/i;
/** Characters Windows refuses in a file name (besides `:` and the separators, named apart). */
// eslint-disable-next-line no-control-regex -- control characters are what this refuses
const WINDOWS_FORBIDDEN = /[\u0001-\u001f<>"|?*]/;

/**
 * Why `name` cannot be a patch file's name, or undefined when it can. Everywhere: not empty,
 * at most 255 characters, no `/`, `\`, `..`, NUL or drive letter (feed file names become paths
 * under an install cache, so this is the line that stops traversal). With `windows` (a patch
 * that may run there) also what NTFS and Win32 refuse or read otherwise: device names,
 * `:` (an alternate data stream: `setup.msp:evil`), a trailing dot or space (dropped, so the
 * name opens another file), control characters and `<>"|?*`.
 */
export function fileNameProblem(name: string, windows = false): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 255) return 'it is longer than 255 characters';
  if (name.includes('/') || name.includes('\\')) return 'it contains a path separator (/ or \\)';
  if (name.includes('\0')) return 'it contains NUL';
  if (name.includes('..') || name === '.') return 'it is or contains "." or ".."';
  if (/^[A-Za-z]:/.test(name)) return 'it starts with a drive letter';
  if (!windows) return undefined;
  const forbidden = WINDOWS_FORBIDDEN.exec(name)?.[0];
  if (forbidden !== undefined) {
    const shown = forbidden < ' ' ? `control character ${forbidden.charCodeAt(0)}` : `"${forbidden}"`;
    return `it contains ${shown}, which Windows refuses in a file name`;
  }
  if (name.includes(':')) return 'it contains ":", which names an NTFS alternate data stream';
  if (/[. ]$/.test(name))
    return 'it ends with a dot or a space, which Windows drops (so it names another file)';
  // Windows ignores an extension, and spaces before it, when it looks for a device name
  const stem = (name.split('.')[0] ?? '').trimEnd();
  if (WINDOWS_DEVICE_NAME.test(stem)) return `"${stem}" is a reserved device name on Windows`;
  return undefined;
}

/** True when a patch for these platforms may run on Windows: none named (every platform), or win32. */
export function mayRunOnWindows(platforms: readonly string[] | undefined): boolean {
  return platforms === undefined || platforms.length === 0 || platforms.includes('win32');
}

/** A plain file name (see fileNameProblem); `windows` adds Windows' rules. */
export function isSafeFileName(name: string, windows = false): boolean {
  return fileNameProblem(name, windows) === undefined;
}

/** Throws PB_ERR_UNSAFE_NAME naming `what`, the name and the reason unless it is a plain file name. */
export function assertSafeFileName(name: string, what = 'file name', windows = false): string {
  const problem = fileNameProblem(name, windows);
  if (problem !== undefined) {
    throw new PatchbayError(
      ErrorCodes.UNSAFE_NAME,
      `${what} "${name}" is not a plain file name: ${problem}`,
      {
        name,
      },
    );
  }
  return name;
}

export interface FileNameIssue {
  /** index of the offending name in the list given */
  index: number;
  name: string;
  reason: string;
}

/**
 * The first of a patch's file names that cannot be used: unsafe (fileNameProblem, with
 * Windows' rules when the patch may run there), a duplicate, or (where Windows may run it)
 * equal to another but for case, which on NTFS is the same file.
 */
export function patchFileNameIssue(
  names: readonly string[],
  platforms: readonly string[] | undefined,
): FileNameIssue | undefined {
  const windows = mayRunOnWindows(platforms);
  const seen = new Map<string, string>();
  for (const [index, name] of names.entries()) {
    const problem = fileNameProblem(name, windows);
    if (problem !== undefined)
      return { index, name, reason: `file "${name}" is not a plain file name: ${problem}` };
    const key = windows ? name.toUpperCase() : name;
    const earlier = seen.get(key);
    if (earlier === name) return { index, name, reason: `duplicate file name "${name}"` };
    if (earlier !== undefined) {
      return {
        index,
        name,
        reason: `file names "${earlier}" and "${name}" differ only by case (one file on Windows)`,
      };
    }
    seen.set(key, name);
  }
  return undefined;
}
