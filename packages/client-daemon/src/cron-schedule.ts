import cron from 'node-cron';
import { ErrorCodes, PatchbayError } from '@patchbay/core';

/**
 * The next time a cron expression (5 or 6 fields) fires in `timezone` (null =
 * local time), from node-cron's own matcher, so `status` shows exactly what the
 * daemon's jobs will do.
 */
export function nextCronRun(expression: string, timezone: string | null, key = 'schedule'): Date {
  let task;
  try {
    task = cron.createTask(expression, () => undefined, timezone ? { timezone } : {});
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `${key}: "${expression}" is not a valid cron expression: ${(err as Error).message}`,
      { key, expression },
    );
  }
  try {
    const [next] = task.getNextRuns(1);
    if (!next) throw new Error('no next run');
    return next;
  } finally {
    void task.destroy();
  }
}
