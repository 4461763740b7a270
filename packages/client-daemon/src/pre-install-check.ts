import path from 'node:path';
import type { ClientPolicy } from '@patchbay/core';
import { runCommand } from './process-runner.js';

export const DEFAULT_PRE_INSTALL_TIMEOUT_SECONDS = 300;

/**
 * Run policy.preInstallCheck (argv, no shell, the whole process tree killed on
 * timeout). Returns '' when the install may go ahead, else why it is postponed.
 */
export async function runPreInstallCheck(
  check: NonNullable<ClientPolicy['preInstallCheck']>,
  logsDir: string,
): Promise<string> {
  const timeoutSeconds = check.timeoutSeconds ?? DEFAULT_PRE_INSTALL_TIMEOUT_SECONDS;
  const logPath = path.join(
    logsDir,
    `pre-install-check-${new Date().toISOString().replace(/[:.]/g, '-')}.log`,
  );
  const res = await runCommand(check.command, { timeoutMs: timeoutSeconds * 1000, logPath });
  const what = `pre-install check ${JSON.stringify(check.command)}`;
  if (res.spawnError) return `${what} could not start: ${res.spawnError.message}`;
  if (res.timedOut) return `${what} timed out after ${timeoutSeconds} s (log: ${logPath})`;
  if (res.exitCode !== 0) {
    return `${what} ${res.signal ? `was killed by ${res.signal}` : `exited with code ${res.exitCode}`} (log: ${logPath})`;
  }
  return '';
}
