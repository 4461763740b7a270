// `serve` on a branch: the rollup sender with its triggers — at start, a cheap check
// every rollup.intervalSeconds, and rollup.schedule (which also retries a failure).
import type cronModule from 'node-cron';
import { createDispatcher, ErrorCodes, PatchbayError, type Logger, type ServerConfig } from '@patchbay/core';
import type { ReportStore } from '../reports/report-store.js';
import { describeKey, mirrorKeyFile, readMirrorKey } from '../trust/mirror-key.js';
import { RollupSender } from './rollup-sender.js';

export interface RunningRollup {
  sender: RollupSender;
  stop(): Promise<void>;
}

export async function startRollup(
  cron: typeof cronModule,
  config: ServerConfig,
  store: ReportStore,
  logger: Logger,
): Promise<RunningRollup | undefined> {
  const rollup = config.rollup;
  if (!rollup) return undefined;
  const key = await readMirrorKey(mirrorKeyFile(config));
  if (key === undefined) {
    throw new PatchbayError(ErrorCodes.CONFIG, 'rollup: this mirror has no signing key (run keygen)', {
      key: 'rollup',
    });
  }
  const dispatcher = createDispatcher({ proxy: config.upstream.proxy });
  const sender = new RollupSender({
    config: rollup,
    dataDir: config.dataDir,
    reports: store,
    fingerprint: describeKey(key).fingerprint,
    logger,
    dispatcher,
  });
  sender.start();
  const timezone = config.schedule.timezone ?? undefined;
  const task =
    rollup.schedule === null
      ? undefined
      : cron.schedule(rollup.schedule, () => sender.run('schedule'), {
          name: 'patchbay-rollup',
          noOverlap: true,
          ...(timezone ? { timezone } : {}),
        });
  return {
    sender,
    stop: async () => {
      await task?.destroy();
      await sender.close();
      await dispatcher.close();
    },
  };
}
