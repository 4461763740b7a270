import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, ensurePrivateDir, PRIVATE_FILE_MODE, systemToolPath } from '@patchbay/core';
import type { Logger } from '@patchbay/core';
import { readOutputTail } from './output-tail.js';

export interface RunOptions {
  timeoutMs: number;
  /** stdout and stderr go here (created, appended); omitted = discarded */
  logPath?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** after SIGTERM to the process group, wait this long before SIGKILL (default 5 s) */
  killGraceMs?: number;
  /** called once the command started (the installer records its pid for crash recovery) */
  onSpawn?: (pid: number) => void;
  /** how to kill the tree on timeout (default: this host's platform) */
  treeKill?: TreeKillOptions;
}

export interface TreeKillOptions {
  /** 'win32' walks the tree with taskkill; anything else signals the process group (default process.platform) */
  platform?: NodeJS.Platform;
  /** where a failed taskkill is reported (default: a patchbay-client logger on stderr) */
  logger?: Pick<Logger, 'warn'>;
}

export interface RunResult {
  /** null when killed by a signal or never started */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** spawn failure (ENOENT, EACCES…) */
  spawnError?: Error;
  durationMs: number;
  /** the last lines the command wrote (OUTPUT_TAIL_BYTES at most, cleaned); with logPath only */
  outputTail?: string;
}

/** How long to wait for stdio to close after the command exits (a background grandchild may hold it). */
const STDIO_DRAIN_MS = 2000;

/** taskkill's exit code when the pid names no process (the tree is already gone). */
const TASKKILL_NO_SUCH_PROCESS = 128;

let defaultLogger: Logger | undefined;
function fallbackLogger(): Logger {
  defaultLogger ??= createLogger({ name: 'patchbay-client' });
  return defaultLogger;
}

/**
 * Kill the command and everything it started. On POSIX the child leads its own
 * process group (detached), so a signal to -pid reaches grandchildren too; on
 * Windows, taskkill /T walks the tree.
 */
export function killTree(
  child: ChildProcess,
  signal: NodeJS.Signals,
  opts: TreeKillOptions = {},
): Promise<void> {
  if (child.pid === undefined) return Promise.resolve();
  return killProcessTree(child.pid, signal, opts);
}

/**
 * killTree by pid: also for a command a crashed patchbay-client left running. Resolves once
 * the kill was done (on Windows: taskkill ended); never rejects. On Windows there are no
 * signals: taskkill /F ends the whole tree at once, whatever `signal` says.
 */
export function killProcessTree(
  pid: number,
  signal: NodeJS.Signals,
  opts: TreeKillOptions = {},
): Promise<void> {
  if ((opts.platform ?? process.platform) === 'win32') return taskkillTree(pid, opts.logger);
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
  return Promise.resolve();
}

/** `taskkill /pid N /T /F` (argv, no shell); a failure other than "no such process" is logged. */
function taskkillTree(pid: number, logger: Pick<Logger, 'warn'> | undefined): Promise<void> {
  return new Promise((resolve) => {
    execFile(
      systemToolPath('taskkill'),
      ['/pid', String(pid), '/T', '/F'],
      { windowsHide: true },
      (err, stdout, stderr) => {
        const exitCode = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        if (err && exitCode !== TASKKILL_NO_SUCH_PROCESS) {
          (logger ?? fallbackLogger()).warn(
            {
              pid,
              exitCode,
              error: exitCode === null ? err.message : undefined,
              output: `${stdout}${stderr}`.trim(),
            },
            'taskkill could not kill the process tree',
          );
        }
        resolve();
      },
    );
  });
}

/**
 * Run argv without a shell. On timeout: SIGTERM to the whole process group, then
 * SIGKILL after a grace period. Never rejects: the result says what happened.
 */
export async function runCommand(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const [file, ...args] = argv;
  if (file === undefined || file === '') {
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      spawnError: new Error('empty command'),
      durationMs: 0,
    };
  }
  // The command writes straight into the log file (not through a pipe to this process), so
  // it never dies of SIGPIPE half-way when patchbay-client itself is killed mid-install.
  let log: FileHandle | undefined;
  /** where this run's output begins in the log (the file may hold earlier runs) */
  let outputStart = 0;
  if (opts.logPath) {
    await ensurePrivateDir(path.dirname(opts.logPath));
    log = await open(opts.logPath, 'a', PRIVATE_FILE_MODE);
    await log.write(`# ${new Date().toISOString()} run ${JSON.stringify(argv)}\n`);
    outputStart = (await log.stat()).size;
  }

  const windows = (opts.treeKill?.platform ?? process.platform) === 'win32';
  /** tree kills started; the run ends only after they did (taskkill is a process of its own) */
  const kills: Promise<void>[] = [];
  const result = await new Promise<RunResult>((resolve) => {
    let timedOut = false;
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;

    const child = spawn(file, args, {
      shell: false,
      detached: !windows,
      windowsHide: true,
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', log ? log.fd : 'ignore', log ? log.fd : 'ignore'],
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);

    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const res: RunResult = {
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        durationMs: Date.now() - started,
      };
      if (spawnError) res.spawnError = spawnError;
      resolve(res);
    };

    const timeoutTimer = setTimeout(() => {
      // exited, its stdio still draining: on Windows its pid may already name another process
      if (windows && exit) return;
      timedOut = true;
      kills.push(killTree(child, 'SIGTERM', opts.treeKill));
      killTimer = setTimeout(() => {
        // a Windows pid may name another process once its own has exited
        if (!(windows && exit)) kills.push(killTree(child, 'SIGKILL', opts.treeKill));
      }, opts.killGraceMs ?? 5000);
      killTimer.unref();
    }, opts.timeoutMs);

    child.once('error', (err) => {
      spawnError = err;
      finish();
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      if (timedOut && !windows) {
        // the leader is gone; make sure nothing it started outlives the timeout (on Windows,
        // taskkill /T /F took the tree while the leader was there to find it by)
        kills.push(killTree(child, 'SIGKILL', opts.treeKill));
      }
      drainTimer = setTimeout(finish, STDIO_DRAIN_MS);
    });
    child.once('close', finish);
  });
  await Promise.all(kills);

  if (log && opts.logPath) {
    const tail = await readOutputTail(opts.logPath, outputStart);
    if (tail !== undefined) result.outputTail = tail;
    const how = result.spawnError
      ? `spawn failed: ${result.spawnError.message}`
      : result.timedOut
        ? `timed out after ${opts.timeoutMs} ms (process tree killed)`
        : result.signal
          ? `killed by ${result.signal}`
          : `exit code ${result.exitCode}`;
    await log.write(`# ${new Date().toISOString()} ${how}\n`);
    await log.close();
  }
  return result;
}
