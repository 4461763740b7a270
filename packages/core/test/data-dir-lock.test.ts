// The one data-dir lock of the server and the client: real directories, real processes.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import t from 'tap';
import { acquireDataDirLock, type DataDirLockOptions } from '../src/data-dir-lock.js';
import { ErrorCodes } from '../src/errors.js';

function options(dataDir: string): DataDirLockOptions {
  return {
    dataDir,
    lockPath: join(dataDir, 'lock'),
    refusal: (holder) => `held by ${holder ? `${holder.pid}@${holder.hostname}` : 'someone'}`,
  };
}

/** The pid of a real process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout);
}

t.test('a private lock directory naming its holder; refused while held; released once', async (t) => {
  const dir = t.testdir();
  const lock = await acquireDataDirLock(options(dir));
  t.equal(statSync(lock.path).mode & 0o777, 0o700);
  t.equal(statSync(join(lock.path, 'owner.json')).mode & 0o777, 0o600);
  t.match(JSON.parse(await readFile(join(lock.path, 'owner.json'), 'utf8')), {
    pid: process.pid,
    hostname: hostname(),
    since: /^\d{4}-/,
  });
  await t.rejects(acquireDataDirLock(options(dir)), {
    code: ErrorCodes.LOCKED,
    message: `held by ${process.pid}@${hostname()}`,
    context: { dataDir: dir, lockFile: lock.path, pid: process.pid, hostname: hostname() },
  });
  await lock.release();
  await lock.release();
  t.notOk(existsSync(lock.path), 'nothing left behind');
});

t.test('a dead holder on another host is not taken over: its pid means nothing here', async (t) => {
  const dir = t.testdir();
  const lock = await acquireDataDirLock(options(dir));
  const owner = join(lock.path, 'owner.json');
  await writeFile(owner, JSON.stringify({ pid: deadPid(), hostname: 'another-host.invalid', since: 'then' }));
  await t.rejects(acquireDataDirLock(options(dir)), {
    code: ErrorCodes.LOCKED,
    message: /@another-host\.invalid$/,
  });
  // the same dead pid recorded on this host: taken over at once
  await writeFile(owner, JSON.stringify({ pid: deadPid(), hostname: hostname(), since: 'then' }));
  const taken = await acquireDataDirLock(options(dir));
  await taken.release();
  await lock.release().catch(() => undefined);
});

t.test('releasing a lock already lost does not throw (a shutdown still ends cleanly)', async (t) => {
  const dir = t.testdir();
  const lock = await acquireDataDirLock(options(dir));
  // proper-lockfile lets go of it behind our back, as when it gives up a lock it could not refresh
  await lockfile.unlock(dir, { lockfilePath: lock.path, realpath: false }).catch(() => undefined);
  await t.resolves(lock.release());
});
