// What a SIGKILL (or power cut) of an earlier patchbay-client leaves behind, put right at the
// start of the next run that holds the data-dir lock: an installer still running on its own,
// actions marked pending, scratch files in the cache and the data directory.
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, processAlive, removeStaleAtomicTemps } from '@patchbay/core';
import type { Logger } from '@patchbay/core';
import type { Ledger, PendingAction } from './ledger.js';
import { killProcessTree } from './process-runner.js';
import { bootTime } from './reboot.js';
import type { Session } from './session.js';

const POLL_MS = 100;
/** after SIGTERM to a survivor past its timeout, this long before SIGKILL */
const KILL_GRACE_MS = 5000;

/**
 * True while the survivor is there: on POSIX any process of its group `pgid` (ours to
 * signal); on Windows, which has no process groups to ask, the leader itself.
 */
function survivorAlive(pgid: number, platform: NodeJS.Platform): boolean {
  if (platform === 'win32') return processAlive(pgid);
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    // ESRCH: gone; EPERM: the id now belongs to someone else's processes
    return false;
  }
}

/**
 * A pending command that survived its patchbay-client (it leads its own process group)
 * may still be changing the host: let it finish, as the dead client would have, up to its
 * own timeout; past that, kill its tree as the runner would. Only then may detect rules
 * decide what is installed, and may the patch be tried again.
 */
async function waitForSurvivor(
  id: string,
  pending: Readonly<PendingAction>,
  logger: Logger,
  platform: NodeJS.Platform,
): Promise<void> {
  const { pid } = pending;
  const alive = (): boolean => pid !== undefined && survivorAlive(pid, platform);
  if (pid === undefined || !alive()) return;
  // a pid recorded before the last boot names some other process now
  if (Date.parse(pending.startedAt) < bootTime().getTime()) return;
  const deadline = pending.deadline ? Date.parse(pending.deadline) : Date.now();
  logger.warn(
    { patchId: id, pid, action: pending.action, deadline: pending.deadline },
    'a command started before a crash is still running; waiting for it to end',
  );
  while (alive() && Date.now() < deadline) await sleep(POLL_MS);
  if (!alive()) return;
  logger.error({ patchId: id, pid }, 'the surviving command ran past its timeout; killing its process tree');
  await killProcessTree(pid, 'SIGTERM', { platform, logger });
  const killAt = Date.now() + KILL_GRACE_MS;
  while (alive() && Date.now() < killAt) await sleep(POLL_MS);
  if (alive()) await killProcessTree(pid, 'SIGKILL', { platform, logger });
}

/** Scratch files of writeFileAtomic whose writer is dead (ledger, catalog, trust files). */
async function removeDeadWritersTemps(dir: string, logger: Logger): Promise<void> {
  const removed = await removeStaleAtomicTemps(dir);
  for (const name of removed) logger.debug({ file: name }, 'removed a temp file left by a crash');
}

/**
 * Call holding the data-dir lock, before anything else. Returns the patches whose action
 * was interrupted (recorded as failed; their detect rules decide at the next scan).
 */
export async function recoverFromCrash(
  session: Session,
  ledger: Ledger,
  platform: NodeJS.Platform = process.platform,
): Promise<string[]> {
  const { logger, paths, store } = session;
  for (const [id, pending] of Object.entries(ledger.pending)) {
    await waitForSurvivor(id, pending, logger, platform);
  }
  const interrupted = await ledger.recoverInterrupted();
  try {
    // resumable partials (<hex>.part with its validator) stay; anything else in tmp/ goes
    const { removed } = await store.cleanTemp();
    if (removed.length > 0) logger.info({ files: removed }, 'removed unfinished cache files');
    await removeDeadWritersTemps(paths.root, logger);
    await removeDeadWritersTemps(paths.tuf, logger);
    // per-patch staging copies are rebuilt before every command; a crash can leave them
    if (interrupted.length > 0) await rm(paths.staging, { recursive: true, force: true });
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'cleaning up after a crash failed; carrying on');
  }
  return interrupted;
}
