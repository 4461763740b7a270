// `serve` runs gc on schedule.gc. A tick that finds a sync running waits for it to end
// (checking every few seconds, for at most an hour) instead of skipping a day.
import type cronModule from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import { ErrorCodes, errorMessage, isPatchbayError, type Logger, type ServerConfig } from '@patchbay/core';
import type { MirrorService } from '../mirror.js';

const SYNC_WAIT_STEP_MS = 5_000;
const SYNC_WAIT_MAX_MS = 60 * 60_000;

/** One scheduled gc: waits out a running sync, then collects; never throws. */
export async function scheduledGc(
  mirror: MirrorService,
  logger: Logger,
  stepMs = SYNC_WAIT_STEP_MS,
): Promise<void> {
  const log = logger.child({ component: 'gc', reason: 'schedule' });
  const deadline = Date.now() + SYNC_WAIT_MAX_MS;
  for (;;) {
    try {
      const result = await mirror.gc();
      log.info(
        { removedBlobs: result.removedBlobs, reclaimedBytes: result.reclaimedBytes },
        'scheduled gc finished',
      );
      return;
    } catch (err) {
      if (isPatchbayError(err, ErrorCodes.SYNC_IN_PROGRESS) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, stepMs).unref());
        continue;
      }
      if (isPatchbayError(err, ErrorCodes.LOCKED) || isPatchbayError(err, ErrorCodes.SYNC_IN_PROGRESS)) {
        log.info({ err: errorMessage(err) }, 'scheduled gc skipped');
      } else if (isPatchbayError(err, ErrorCodes.ABORTED)) {
        log.info('scheduled gc skipped: the server is stopping');
      } else {
        log.error({ err: errorMessage(err) }, 'scheduled gc failed');
      }
      return;
    }
  }
}

/** The node-cron task for schedule.gc, or undefined when it is null. */
export function scheduleGc(
  cron: typeof cronModule,
  config: ServerConfig,
  mirror: MirrorService,
  logger: Logger,
): ScheduledTask | undefined {
  if (config.schedule.gc === null || config.schedule.gc === undefined) return undefined;
  const timezone = config.schedule.timezone ?? undefined;
  return cron.schedule(config.schedule.gc, () => scheduledGc(mirror, logger), {
    name: 'patchbay-gc',
    noOverlap: true,
    ...(timezone ? { timezone } : {}),
  });
}
