import { uptime } from 'node:os';
import path from 'node:path';
import type { Logger } from '@patchbay/core';
import { runCommand } from './process-runner.js';

/** When this host booted, from os.uptime(). */
export function bootTime(now = Date.now(), uptimeSeconds = uptime()): Date {
  return new Date(now - uptimeSeconds * 1000);
}

const REBOOT_COMMAND_TIMEOUT_MS = 120_000;

/**
 * Run policy.rebootCommand (argv, no shell). Returns '' when it exited 0, else why
 * not. The command usually schedules the reboot (shutdown -r +1) and returns.
 */
export async function runRebootCommand(
  argv: readonly string[],
  logsDir: string,
  logger: Logger,
): Promise<string> {
  const logPath = path.join(logsDir, `reboot-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  logger.warn({ command: argv }, 'running the reboot command (policy.reboot is "allowed")');
  const res = await runCommand(argv, { timeoutMs: REBOOT_COMMAND_TIMEOUT_MS, logPath });
  if (res.spawnError)
    return `reboot command ${JSON.stringify(argv)} could not start: ${res.spawnError.message}`;
  if (res.timedOut)
    return `reboot command ${JSON.stringify(argv)} timed out after ${REBOOT_COMMAND_TIMEOUT_MS / 1000} s`;
  if (res.exitCode !== 0) {
    return `reboot command ${JSON.stringify(argv)} ${res.signal ? `was killed by ${res.signal}` : `exited with code ${res.exitCode}`} (log: ${logPath})`;
  }
  return '';
}
