// Argument checks for enroll/revoke, apart from token-cli.ts so that the CLI can
// refuse bad usage without loading SQLite.
import { HOST_ID_PATTERN } from '@patchbay/core';

const HOST_ID = new RegExp(HOST_ID_PATTERN);

/** A usage problem with enroll/revoke's arguments, or null when they are fine. */
export function tokenCommandUsageError(command: string, args: readonly string[]): string | null {
  if (args.length !== 1) return `${command} takes one HOSTID, got ${args.length} arguments`;
  const hostId = args[0] ?? '';
  if (!HOST_ID.test(hostId))
    return `${command}: HOSTID "${hostId}" must match ${HOST_ID_PATTERN} (letters, digits, ".", "_", "-")`;
  return null;
}
