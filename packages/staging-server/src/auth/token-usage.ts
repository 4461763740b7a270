// The HOSTID argument of enroll/revoke, apart from token-cli.ts so that the CLI can
// refuse bad usage without loading SQLite.
import { ErrorCodes, HOST_ID_PATTERN, PatchbayError } from '@patchbay/core';

const HOST_ID = new RegExp(HOST_ID_PATTERN);

/** A commander argParser: the HOSTID as given, or PB_ERR_USAGE saying what it must match. */
export function hostIdArgument(hostId: string): string {
  if (!HOST_ID.test(hostId)) {
    throw new PatchbayError(
      ErrorCodes.USAGE,
      `HOSTID "${hostId}" must match ${HOST_ID_PATTERN} (letters, digits, ".", "_", "-")`,
      { argument: 'HOSTID' },
    );
  }
  return hostId;
}
