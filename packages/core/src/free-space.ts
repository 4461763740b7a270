// Free disk space: a check before a transfer (fail early, naming what to do) and the
// translation of ENOSPC/EDQUOT during one into PB_ERR_DISK_FULL.
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ErrorCodes, PatchbayError } from './errors.js';

/** Codes that mean "this filesystem (or this user's quota on it) is full" (SQLite says SQLITE_FULL). */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * Bytes an unprivileged writer may still use on the filesystem holding `path`
 * (bavail × bsize). A path that does not exist yet is measured at its nearest existing
 * ancestor, which is where it would be created.
 */
export async function freeBytes(path: string): Promise<number> {
  let current = resolve(path);
  for (;;) {
    try {
      const info = await statfs(current);
      return Number(info.bavail) * Number(info.bsize);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const parent = dirname(current);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) throw err;
      current = parent;
    }
  }
}

export interface FreeSpaceCheck {
  /** bytes free on the filesystem */
  free: number;
  /** bytes asked for: the bytes to write plus the margin */
  required: number;
}

/**
 * Throw PB_ERR_DISK_FULL unless `neededBytes + marginBytes` are free on the filesystem
 * holding `path`. `what` names the transfer ("the sync's downloads"); `marginKey` names
 * the config key the operator may lower instead of freeing space.
 */
export async function assertFreeSpace(
  path: string,
  neededBytes: number,
  marginBytes: number,
  what: string,
  marginKey?: string,
): Promise<FreeSpaceCheck> {
  const needed = Math.max(0, neededBytes);
  const margin = Math.max(0, marginBytes);
  const required = needed + margin;
  const free = await freeBytes(path);
  if (free >= required) return { free, required };
  const lower = marginKey ? ` or lower ${marginKey} (now ${margin})` : '';
  throw new PatchbayError(
    ErrorCodes.DISK_FULL,
    `not enough free space for ${what} in ${path}: need ${required} bytes (${needed} to write + ${margin} margin), ` +
      `${free} free; free at least ${required - free} bytes there${lower} and try again`,
    { path, needed, margin, required, free, ...(marginKey ? { marginKey } : {}) },
  );
}

/** True for ENOSPC/EDQUOT/SQLITE_FULL, looking through `cause` (a wrapped write error). */
export function isDiskFullError(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && DISK_FULL_CODES.has(code)) return true;
  return isDiskFullError(err.cause, depth + 1);
}

/**
 * PB_ERR_DISK_FULL for a write of `what` to `path` that hit ENOSPC/EDQUOT (kept as the cause);
 * `outcome` says what was done about it ("the partial file was removed").
 */
export function diskFullError(path: string, what: string, err: unknown, outcome?: string): PatchbayError {
  const code = (err as NodeJS.ErrnoException).code ?? 'ENOSPC';
  const done = outcome ? `; ${outcome}` : '';
  return new PatchbayError(
    ErrorCodes.DISK_FULL,
    `disk full writing ${what} to ${path} (${code})${done}: free space there and try again`,
    { path, cause: code },
    { cause: err },
  );
}
