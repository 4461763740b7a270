import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '@patchbay/core';
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

/**
 * Kill the command and everything it started. On POSIX the child leads its own
 * process group (detached), so a signal to -pid reaches grandchildren too; on
 * Windows, taskkill /T walks the tree.
 */
export function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  killProcessTree(child.pid, signal);
}

/** killTree by pid: also for a command a crashed patchbay-client left running. */
export function killProcessTree(pid: number, signal: NodeJS.Signals): void {
  if (process.platform === 'win32') {
    execFile('taskkill', ['/pid', String(pid), '/T', '/F'], () => undefined);
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
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

  const result = await new Promise<RunResult>((resolve) => {
    let timedOut = false;
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;

    const child = spawn(file, args, {
      shell: false,
      detached: process.platform !== 'win32',
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
      timedOut = true;
      killTree(child, 'SIGTERM');
      killTimer = setTimeout(() => killTree(child, 'SIGKILL'), opts.killGraceMs ?? 5000);
      killTimer.unref();
    }, opts.timeoutMs);

    child.once('error', (err) => {
      spawnError = err;
      finish();
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      if (timedOut) {
        // the leader is gone; make sure nothing it started outlives the timeout
        killTree(child, 'SIGKILL');
      }
      drainTimer = setTimeout(finish, STDIO_DRAIN_MS);
    });
    child.once('close', finish);
  });

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
