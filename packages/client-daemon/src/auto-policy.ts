// What the daemon may do on its own (policy.*): pure decisions, no I/O. The steps in
// daemon-steps.ts ask these and then act.
import type { ClientPolicy, PatchEvaluation } from '@patchbay/core';
import type { RebootFlag } from './ledger.js';
import { nextWindowOpening, openWindowAt } from './maintenance-window.js';
import { applicable } from './planner.js';

/**
 * The patches a scheduled download or install takes: with autoInstall "critical"
 * the applicable critical ones (their requirements come in through the plan);
 * with "none", nothing. Manual commands do not ask this.
 */
export function automaticSelection(
  evaluations: readonly PatchEvaluation[],
  policy: Pick<ClientPolicy, 'autoInstall'>,
): string[] {
  if (policy.autoInstall !== 'critical') return [];
  return applicable(evaluations)
    .filter((e) => e.patch.severity === 'critical')
    .map((e) => e.patch.id);
}

export type InstallGate =
  { open: true; closesAt: Date | null } | { open: false; reason: string; nextOpeningAt: Date | null };

/** May a scheduled install start at `at`? Only inside a maintenance window (none configured = always). */
export function scheduledInstallGate(
  policy: Pick<ClientPolicy, 'maintenanceWindows'>,
  defaultZone: string | null,
  at: Date,
): InstallGate {
  const windows = policy.maintenanceWindows;
  if (windows.length === 0) return { open: true, closesAt: null };
  const current = openWindowAt(windows, at, defaultZone);
  if (current) return { open: true, closesAt: current.closesAt };
  const next = nextWindowOpening(windows, at, defaultZone);
  return {
    open: false,
    reason: `outside the maintenance windows${next ? `; the next opens at ${next.toISOString()}` : ''}`,
    nextOpeningAt: next,
  };
}

/** Tolerance for the boot time derived from os.uptime() (whole seconds on some systems). */
const BOOT_TIME_SLACK_MS = 2000;

/** True when the host booted after the reboot flag was set, i.e. the reboot happened. */
export function hostRebootedSince(flag: Pick<RebootFlag, 'since'>, bootedAt: Date): boolean {
  return bootedAt.getTime() > Date.parse(flag.since) + BOOT_TIME_SLACK_MS;
}

/** Run policy.rebootCommand now? Only when allowed, a reboot is pending, and not yet done for this flag. */
export function shouldRunRebootCommand(
  policy: Pick<ClientPolicy, 'reboot'>,
  flag: Readonly<RebootFlag> | null,
): boolean {
  return policy.reboot === 'allowed' && flag !== null && flag.commandRunAt === undefined;
}
