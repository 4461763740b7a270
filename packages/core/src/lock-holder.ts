// Who holds a data-dir lock: `<lock>/owner.json` {pid, hostname, since}, written inside the
// lock directory right after it is taken and removed right before it is released. A SIGKILLed
// holder leaves both behind; the next process sees the owner is dead and takes the lock over at
// once instead of waiting for staleness. Also the lock of the versions before this one: a plain
// file `<dataDir>/lock` holding {pid, startedAt}, recognised so an upgrade neither ignores a
// live old holder nor is blocked by a dead one.
import { lstat, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from './logger.js';
import { PRIVATE_FILE_MODE } from './private-files.js';
import { processAlive } from './process-alive.js';

export interface LockHolder {
  pid: number;
  /** empty for a lock file of an earlier version, which did not record it */
  hostname: string;
  since: string;
}

function ownerPath(lockDir: string): string {
  return path.join(lockDir, 'owner.json');
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockHolder> & { startedAt?: unknown };
    if (!Number.isSafeInteger(owner.pid)) return undefined;
    return {
      pid: owner.pid!,
      hostname: typeof owner.hostname === 'string' ? owner.hostname : '',
      since: String(owner.since ?? owner.startedAt ?? ''),
    };
  } catch {
    return undefined;
  }
}

/** Record this process as the holder (best effort: without it a crash means waiting for staleness). */
export async function writeLockHolder(lockDir: string): Promise<void> {
  const owner: LockHolder = { pid: process.pid, hostname: hostname(), since: new Date().toISOString() };
  try {
    // proper-lockfile takes a changed mtime of its directory for a lost lock: put it back
    const before = await stat(lockDir);
    await writeFile(ownerPath(lockDir), JSON.stringify(owner), { mode: PRIVATE_FILE_MODE });
    await utimes(lockDir, before.atime, before.mtime);
  } catch {
    // best effort
  }
}

/** The recorded holder of the lock, for the refusal's message; undefined when none is readable. */
export async function readLockHolder(lockDir: string): Promise<LockHolder | undefined> {
  const text = await readFile(ownerPath(lockDir), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const owner = parseHolder(text);
  return owner?.hostname ? owner : undefined;
}

/** Before release: the lock directory must be empty for proper-lockfile to remove it. */
export async function removeLockHolder(lockDir: string): Promise<void> {
  await rm(ownerPath(lockDir), { force: true });
}

/**
 * When the lock's recorded holder is a process of this host that no longer exists, remove
 * the lock and return true (the caller takes it again). No owner file (a holder between
 * taking the lock and writing it), another host, or a live pid: false.
 */
export async function removeLockOfDeadHolder(lockDir: string, logger: Logger | undefined): Promise<boolean> {
  const owner = await readLockHolder(lockDir);
  if (!owner || owner.hostname !== hostname() || owner.pid === process.pid) return false;
  if (processAlive(owner.pid)) return false;
  logger?.warn(
    { pid: owner.pid, since: owner.since, lock: lockDir },
    'the lock holder is gone (crashed); taking the lock over',
  );
  await rm(lockDir, { recursive: true, force: true });
  return true;
}

/**
 * The lock file of an earlier version at `lockPath` (a regular file, not our directory):
 * its holder when that process still runs (the caller refuses), else the file is removed
 * (a dead pid, or unreadable: what that version itself did) and undefined is returned.
 * The old format has no host name; its pid is judged on this host, as that version did.
 */
export async function clearLegacyLockFile(
  lockPath: string,
  logger: Logger | undefined,
): Promise<LockHolder | undefined> {
  const info = await lstat(lockPath).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const owner = parseHolder(await readFile(lockPath, 'utf8').catch(() => ''));
  if (owner && processAlive(owner.pid)) return owner;
  logger?.warn(
    { lock: lockPath, pid: owner?.pid },
    'removed the lock file of an earlier version (its holder is gone)',
  );
  // a directory here means another process upgraded it meanwhile: leave that one be
  await unlink(lockPath).catch(() => undefined);
  return undefined;
}
