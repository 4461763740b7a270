import path from 'node:path';
import { exitCodeClass, expandCommand, narrowToPrivate } from '@patchbay/core';
import type { ClientConfig, CommandSpec, ExitCodeClass, FeedPatch } from '@patchbay/core';
import { placeholderContext } from './host.js';
import {
  combinedOutput,
  installerLogPathFor,
  lastLinesInline,
  readInstallerLogTail,
} from './installer-log.js';
import { prunePatchLogs } from './log-retention.js';
import { runCommand } from './process-runner.js';
import type { RunResult } from './process-runner.js';

export type PatchAction = 'install' | 'uninstall';

export const DEFAULT_TIMEOUT_SECONDS = 1800;

/**
 * What the command's end means under the patch's exit-code lists: success, success that
 * needs a reboot, "try again later" (neither success nor failure), or failure (also every
 * timeout, signal and spawn error).
 */
export type CommandResultKind = ExitCodeClass | 'failure';

export interface CommandOutcome {
  /** success and reboot: the caller confirms with the detect rule */
  kind: CommandResultKind;
  /** '' on success and reboot; else why (failure) or why not now (retry) */
  message: string;
  logPath: string;
  /** where {log} pointed (the installer may not have written it) */
  installerLogPath: string;
  result: RunResult;
  /** the last lines of the command's output and of its installer log (failures only; reported with the event) */
  output?: string;
}

/** <logs>/<patchId>-<action>-<timestamp>.log, the timestamp safe in file names. */
export function logPathFor(logsDir: string, patchId: string, action: PatchAction, at = new Date()): string {
  const stamp = at.toISOString().replace(/[:.]/g, '-');
  return path.join(logsDir, `${patchId}-${action}-${stamp}.log`);
}

function describeFailure(spec: CommandSpec, result: RunResult, timeoutSeconds: number): string {
  if (result.spawnError) return `could not start ${spec.command[0]}: ${result.spawnError.message}`;
  if (result.timedOut) return `timed out after ${timeoutSeconds} s; the process tree was killed`;
  if (result.signal) return `killed by ${result.signal}`;
  const others = [
    spec.rebootExitCodes?.length ? `reboot: ${spec.rebootExitCodes.join(', ')}` : '',
    spec.retryExitCodes?.length ? `retry: ${spec.retryExitCodes.join(', ')}` : '',
  ].filter((o) => o !== '');
  const also = others.length > 0 ? `; nor in the patch's ${others.join('; ')}` : '';
  return `exit code ${result.exitCode} is not a success code (${(spec.successExitCodes ?? [0]).join(', ')})${also}`;
}

/** The class of a run's end; only a normal exit has one other than failure. */
export function classifyResult(spec: CommandSpec, result: RunResult): CommandResultKind {
  if (result.spawnError || result.timedOut || result.signal !== null || result.exitCode === null) {
    return 'failure';
  }
  return exitCodeClass(spec, result.exitCode) ?? 'failure';
}

/** A failure's message and output, with the installer log's last lines when it wrote one. */
async function failureReport(
  head: string,
  logPath: string,
  installerLogPath: string,
  result: RunResult,
): Promise<{ message: string; output?: string }> {
  const installerTail = await readInstallerLogTail(installerLogPath);
  const where =
    installerTail === undefined
      ? `(log: ${logPath})`
      : `(log: ${logPath}; installer log: ${installerLogPath}, ending: ${lastLinesInline(installerTail)})`;
  const output = combinedOutput(result.outputTail, installerLogPath, installerTail);
  return output === undefined ? { message: `${head} ${where}` } : { message: `${head} ${where}`, output };
}

/**
 * Run a patch's install or uninstall argv: placeholders expanded ({log}: the installer's
 * own log beside the run's), no shell, cwd the staging dir, output to a per-run log, the
 * timeout killing the whole process tree. The exit code is classed by the patch's lists
 * (successExitCodes, default [0]; rebootExitCodes; retryExitCodes). The caller confirms a
 * success with the detect rule.
 */
export async function runPatchCommand(
  patch: FeedPatch,
  action: PatchAction,
  spec: CommandSpec,
  opts: {
    config: ClientConfig;
    files: Record<string, string>;
    cwd: string;
    logsDir: string;
    killGraceMs?: number;
    /** the command started: its pid (leader of its own process group) */
    onSpawn?: (pid: number) => void;
  },
): Promise<CommandOutcome> {
  const logPath = logPathFor(opts.logsDir, patch.id, action);
  const installerLogPath = installerLogPathFor(logPath);
  const ctx = { ...placeholderContext(opts.config, patch, opts.files), log: installerLogPath };
  const argv = expandCommand(spec.command, ctx);
  const timeoutSeconds = spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const result = await runCommand(argv, {
    timeoutMs: timeoutSeconds * 1000,
    logPath,
    cwd: opts.cwd,
    killGraceMs: opts.killGraceMs,
    onSpawn: opts.onSpawn,
  });
  // the installer made it under its own umask: private like every file of the data dir
  await narrowToPrivate(installerLogPath);
  await prunePatchLogs(opts.logsDir, patch.id, action, {
    current: [path.basename(logPath), path.basename(installerLogPath)],
  });
  const kind = classifyResult(spec, result);
  const base = { kind, logPath, installerLogPath, result };
  if (kind === 'success' || kind === 'reboot') return { ...base, message: '' };
  if (kind === 'retry') {
    const message = `${action} ${patch.id}: exit code ${result.exitCode} asks to try again later (retryExitCodes) (log: ${logPath})`;
    return { ...base, message };
  }
  const head = `${action} ${patch.id}: ${describeFailure(spec, result, timeoutSeconds)}`;
  return { ...base, ...(await failureReport(head, logPath, installerLogPath, result)) };
}
