// What `serve` runs on its own once it listens: a sync at start, schedule.sync, schedule.prune
// (report retention), schedule.gc and, on a branch, the rollup to its parent. All of it stops
// first when the app closes (preClose), before the mirror and the report store close.
// Replicas: all of it is a leader duty (cluster/leader-duties.ts), started when this replica
// is elected (a sync at once, as at start) and stopped when it loses the lock.
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import cron, { type ScheduledTask } from 'node-cron';
import { ErrorCodes, errorMessage, isPatchbayError, type Logger, type ServerConfig } from '@patchbay/core';
import type { LeaderDuties } from '../cluster/leader-duties.js';
import { scheduleGc } from '../gc/gc-schedule.js';
import type { MirrorService } from '../mirror.js';
import type { ReportStore } from '../reports/report-store.js';
import { pruneExpiredEvents } from '../reports/retention.js';
import { startRollup, type RunningRollup } from '../tiers/rollup-schedule.js';
import type { LifecycleOptions } from './lifecycle-plugin.js';

/** Start a sync unless one runs; never rejects (the outcome is logged). */
export function syncInBackground(mirror: MirrorService, logger: Logger, reason: string): Promise<void> {
  if (mirror.isSyncing()) {
    logger.info({ reason }, 'sync skipped: one is already running');
    return Promise.resolve();
  }
  logger.info({ reason }, 'sync starting');
  return mirror.startSync().then(
    (report) =>
      logger.info({ reason, outcome: report.outcome, heldBack: report.heldBack.length }, 'sync finished'),
    (err: unknown) => {
      if (isPatchbayError(err, ErrorCodes.SYNC_IN_PROGRESS))
        logger.info({ reason }, 'sync skipped: one is running');
      else logger.error({ reason, err }, 'sync failed');
    },
  );
}

async function pruneReports(store: ReportStore, config: ServerConfig, logger: Logger): Promise<void> {
  try {
    const deleted = await pruneExpiredEvents(store, config.reports.retentionDays);
    logger.info({ deleted, retentionDays: config.reports.retentionDays }, 'expired report events pruned');
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'pruning report events failed');
  }
}

async function schedules(app: FastifyInstance, { config, logger }: LifecycleOptions): Promise<void> {
  const mirror = app.getDecorator<MirrorService>('mirror');
  const store = app.getDecorator<ReportStore>('reportStore');
  const tasks: ScheduledTask[] = [];
  let syncTask: ScheduledTask | undefined;
  let rollup: Promise<RunningRollup | undefined> = Promise.resolve(undefined);
  // Cron expressions are read in schedule.timezone (an IANA name), else the machine's zone.
  const timezone = config.schedule.timezone ?? undefined;
  const options = (name: string) => ({ name, noOverlap: true, ...(timezone ? { timezone } : {}) });
  app.decorate('nextSyncAt', (): Date | null => syncTask?.getNextRun() ?? null);

  const start = (): void => {
    void syncInBackground(mirror, logger, 'start');
    if (config.schedule.sync !== null) {
      // noOverlap: a tick that comes while the previous scheduled sync still runs is skipped
      // (and syncInBackground skips one started by POST /v1/sync or at start).
      syncTask = cron.schedule(
        config.schedule.sync,
        () => syncInBackground(mirror, logger, 'schedule'),
        options('patchbay-sync'),
      );
      tasks.push(syncTask);
    }
    if (config.schedule.prune !== null)
      tasks.push(
        cron.schedule(
          config.schedule.prune,
          () => pruneReports(store, config, logger),
          options('patchbay-prune'),
        ),
      );
    // schedule.gc: blobs no protected catalog names (waits out a running sync, see gc/gc-schedule.ts)
    const gcTask = scheduleGc(cron, config, mirror, logger);
    if (gcTask) tasks.push(gcTask);
    // rollup: a branch forwards its clients' reports to its parent (tiered mirrors, tiers/)
    rollup = startRollup(cron, config, store, logger).catch((err: unknown) => {
      logger.error({ err: errorMessage(err) }, 'rollup not started');
      return undefined;
    });
  };

  const stop = async (): Promise<void> => {
    const stopping = tasks.splice(0);
    syncTask = undefined;
    for (const task of stopping) await task.destroy();
    // Before the report store closes: a rollup in flight finishes (or stays pending).
    const running = rollup;
    rollup = Promise.resolve(undefined);
    await (await running)?.stop();
  };

  const duties = app.getDecorator<LeaderDuties>('leaderDuties');
  app.addHook('onListen', () => {
    void duties.add({ name: 'schedules', start, stop });
  });

  app.addHook('preClose', async () => {
    await duties.close();
    await stop();
    logger.debug({ part: 'schedules' }, 'stopped');
  });
}

/** Decorates `nextSyncAt` (the next scheduled sync, for /v1/status). */
export const schedulesPlugin = fastifyPlugin(schedules, {
  name: 'patchbay-schedules',
  dependencies: ['patchbay-mirror', 'patchbay-report-store'],
});
