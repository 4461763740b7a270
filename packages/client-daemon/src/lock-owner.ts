// Who holds the data-dir lock: `<lock>/owner.json` {pid, hostname}, written inside the lock
// directory right after it is taken and removed right before it is released. A SIGKILLed
// client leaves both behind; the next one sees the owner is dead and takes the lock over at
// once instead of refusing to run until the lock goes stale (30 s).
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { PRIVATE_FILE_MODE, processAlive, type Logger } from '@patchbay/core';

interface LockOwner {
  pid: number;
  hostname: string;
  since: string;
}

function ownerPath(lockDir: string): string {
  return path.join(lockDir, 'owner.json');
}

/** Record this process as the holder (best effort: without it a crash means waiting for staleness). */
export async function writeLockOwner(lockDir: string): Promise<void> {
  const owner: LockOwner = { pid: process.pid, hostname: hostname(), since: new Date().toISOString() };
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
export async function readLockOwner(lockDir: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(ownerPath(lockDir), 'utf8')) as Partial<LockOwner>;
    if (!Number.isSafeInteger(owner.pid) || typeof owner.hostname !== 'string') return undefined;
    return { pid: owner.pid!, hostname: owner.hostname, since: String(owner.since ?? '') };
  } catch {
    return undefined;
  }
}

/** Before release: the lock directory must be empty for proper-lockfile to remove it. */
export async function removeLockOwner(lockDir: string): Promise<void> {
  await rm(ownerPath(lockDir), { force: true });
}

/**
 * When the lock's recorded holder is a process of this host that no longer exists, remove
 * the lock and return true (the caller takes it again). No owner file (a holder between
 * taking the lock and writing it), another host, or a live pid: false.
 */
export async function removeLockOfDeadOwner(lockDir: string, logger: Logger): Promise<boolean> {
  let owner: LockOwner;
  try {
    owner = JSON.parse(await readFile(ownerPath(lockDir), 'utf8')) as LockOwner;
  } catch {
    return false;
  }
  if (owner.hostname !== hostname() || !Number.isSafeInteger(owner.pid) || owner.pid === process.pid) {
    return false;
  }
  if (processAlive(owner.pid)) return false;
  logger.warn(
    { pid: owner.pid, since: owner.since, lock: lockDir },
    'the lock holder is gone (crashed); taking the lock over',
  );
  await rm(lockDir, { recursive: true, force: true });
  return true;
}
