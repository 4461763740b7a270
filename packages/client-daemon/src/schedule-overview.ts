import type { ClientConfig } from '@patchbay/core';
import { scheduledInstallGate } from './auto-policy.js';
import { nextCronRun } from './cron-schedule.js';
import type { ReportEvent } from '@patchbay/core';

/** `status`'s `schedule` object: when the daemon's jobs fire next (before their jitter). */
export interface ScheduleOverview {
  timezone: string | null;
  jitterSeconds: number;
  autoInstall: 'none' | 'critical';
  /** null: no check scheduled (or, with intervalSeconds, no check has run yet) */
  nextCheckAt: string | null;
  /** null when autoInstall is "none" or schedule.download is null (the check downloads) */
  nextDownloadAt: string | null;
  nextInstallAt: string | null;
  /** null when no windows are configured (always open) */
  maintenanceWindow: { open: boolean; closesAt: string | null; nextOpeningAt: string | null } | null;
}

function cronNext(expr: string | null, config: ClientConfig, key: string): string | null {
  return expr ? nextCronRun(expr, config.schedule.timezone, key).toISOString() : null;
}

/**
 * Next runs from the config's cron expressions and time zone; with
 * schedule.intervalSeconds, the last check event plus the interval.
 */
export function scheduleOverview(
  config: ClientConfig,
  events: readonly ReportEvent[],
  now: Date = new Date(),
): ScheduleOverview {
  const { schedule, policy } = config;
  const auto = policy.autoInstall === 'critical';
  let nextCheckAt: string | null;
  if (schedule.intervalSeconds) {
    const lastCheck = events.findLast((e) => e.type === 'check');
    nextCheckAt = lastCheck
      ? new Date(
          Math.max(now.getTime(), Date.parse(lastCheck.at) + schedule.intervalSeconds * 1000),
        ).toISOString()
      : null;
  } else {
    nextCheckAt = cronNext(schedule.check, config, 'schedule.check');
  }
  let maintenanceWindow: ScheduleOverview['maintenanceWindow'] = null;
  if (policy.maintenanceWindows.length > 0) {
    const gate = scheduledInstallGate(policy, schedule.timezone, now);
    maintenanceWindow = gate.open
      ? { open: true, closesAt: gate.closesAt?.toISOString() ?? null, nextOpeningAt: null }
      : { open: false, closesAt: null, nextOpeningAt: gate.nextOpeningAt?.toISOString() ?? null };
  }
  return {
    timezone: schedule.timezone,
    jitterSeconds: schedule.jitterSeconds,
    autoInstall: policy.autoInstall,
    nextCheckAt,
    nextDownloadAt: auto ? cronNext(schedule.download, config, 'schedule.download') : null,
    nextInstallAt: auto ? cronNext(schedule.install, config, 'schedule.install') : null,
    maintenanceWindow,
  };
}
