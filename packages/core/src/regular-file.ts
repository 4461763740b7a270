// Opening a file whose type someone else decides (a detect rule's path, a repository directory,
// an installer's log): non-blocking, then checked on the open handle, so a FIFO or a device at
// the path is refused at once instead of waiting for a writer that does not come.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, PatchbayError } from './errors.js';

/** The open regular file and its size; PB_ERR_NOT_A_FILE (closed again) for anything else. */
export async function openRegularFile(path: string): Promise<{ handle: FileHandle; size: number }> {
  // O_NONBLOCK only changes how a FIFO or device opens; Windows has neither flag nor FIFOs
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stat = await handle.stat();
    if (!stat.isFile())
      throw new PatchbayError(ErrorCodes.NOT_A_FILE, `${path} is not a regular file`, { path });
    return { handle, size: stat.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}
