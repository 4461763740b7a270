import path from 'node:path';
import { expandCommand } from '@patchbay/core';
import type { ClientConfig, CommandSpec, FeedPatch } from '@patchbay/core';
import { placeholderContext } from './host.js';
import { runCommand } from './process-runner.js';
import type { RunResult } from './process-runner.js';

export type PatchAction = 'install' | 'uninstall';

export const DEFAULT_TIMEOUT_SECONDS = 1800;

export interface CommandOutcome {
  ok: boolean;
  message: string;
  logPath: string;
  result: RunResult;
  /** the last lines of the command's output (failures only; reported with the event) */
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
  return `exit code ${result.exitCode} is not a success code (${(spec.successExitCodes ?? [0]).join(', ')})`;
}

/**
 * Run a patch's install or uninstall argv: placeholders expanded, no shell, cwd the
 * staging dir, output to a per-run log, the timeout killing the whole process tree.
 * Success = an exit code in successExitCodes (default [0]). The caller confirms with
 * the detect rule.
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
  const argv = expandCommand(spec.command, placeholderContext(opts.config, patch, opts.files));
  const timeoutSeconds = spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const logPath = logPathFor(opts.logsDir, patch.id, action);
  const result = await runCommand(argv, {
    timeoutMs: timeoutSeconds * 1000,
    logPath,
    cwd: opts.cwd,
    killGraceMs: opts.killGraceMs,
    onSpawn: opts.onSpawn,
  });
  const successCodes = spec.successExitCodes ?? [0];
  const ok =
    !result.spawnError &&
    !result.timedOut &&
    result.signal === null &&
    result.exitCode !== null &&
    successCodes.includes(result.exitCode);
  const outcome: CommandOutcome = {
    ok,
    message: ok
      ? ''
      : `${action} ${patch.id}: ${describeFailure(spec, result, timeoutSeconds)} (log: ${logPath})`,
    logPath,
    result,
  };
  if (!ok && result.outputTail) outcome.output = result.outputTail;
  return outcome;
}
