// The daemon's clock in-process: jitter bounds, no overlap, one step at a time, stop.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createLogger } from '@patchbay/core';
import { DaemonScheduler } from '../src/daemon-scheduler.js';
import type { DaemonJob } from '../src/daemon-scheduler.js';
import { jitterDelayMs } from '../src/jitter.js';
import { SerialQueue } from '../src/serial-queue.js';
import { nextCronRun } from '../src/cron-schedule.js';

const logger = createLogger({ name: 'test', level: 'silent' });

t.test('jitter stays within 0..jitterSeconds', async (t) => {
  t.equal(
    jitterDelayMs(0, () => 0.99),
    0,
    'no jitter configured',
  );
  t.equal(
    jitterDelayMs(300, () => 0),
    0,
  );
  t.equal(
    jitterDelayMs(300, () => 0.5),
    150_000,
  );
  t.equal(
    jitterDelayMs(300, () => 0.999999999),
    300_000,
    'the upper bound is reachable, not exceeded',
  );
  const delays = Array.from({ length: 1000 }, () => jitterDelayMs(5));
  t.same(
    delays.filter((d) => d < 0 || d > 5000 || !Number.isInteger(d)),
    [],
    'Math.random delays are whole ms in 0..5000',
  );
});

t.test('a triggered run waits its jitter first', async (t) => {
  let ranAt = 0;
  const job: DaemonJob = { name: 'check', cron: null, run: async () => void (ranAt = Date.now()) };
  const s = new DaemonScheduler({ jobs: [job], timezone: null, jitterSeconds: 1, logger, random: () => 0.6 });
  const started = Date.now();
  t.equal(await s.trigger(job), true);
  t.ok(ranAt - started >= 590, `waited ${ranAt - started} ms (random 0.6 of 1 s)`);
  await s.stop();
});

t.test('stop ends a jitter wait at once and the run does not happen', async (t) => {
  let ran = false;
  const job: DaemonJob = { name: 'check', cron: null, run: async () => void (ran = true) };
  const s = new DaemonScheduler({
    jobs: [job],
    timezone: null,
    jitterSeconds: 60,
    logger,
    random: () => 0.9,
  });
  const pending = s.trigger(job);
  await sleep(50);
  const before = Date.now();
  await s.stop();
  t.equal(await pending, false);
  t.ok(Date.now() - before < 1000, 'did not wait out the jitter');
  t.notOk(ran);
});

t.test('a slow job is not started twice; jobs never run at the same time', async (t) => {
  let running = 0;
  let maxRunning = 0;
  const starts: Record<string, number> = { check: 0, install: 0 };
  const body = (name: 'check' | 'install', ms: number) => async () => {
    starts[name]!++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    await sleep(ms);
    running--;
  };
  const jobs: DaemonJob[] = [
    { name: 'install', cron: '* * * * * *', run: body('install', 2500) },
    { name: 'check', cron: '* * * * * *', run: body('check', 100) },
  ];
  const s = new DaemonScheduler({ jobs, timezone: 'UTC', jitterSeconds: 0, logger });
  s.start();
  t.type(s.nextRuns().install, Date, 'cron jobs know their next run');
  t.equal(s.nextRuns().download, null, 'unscheduled job has none');
  // Both crons fire every second: which one is queued first in a tick is up to the timers,
  // so wait (bounded) until each has run rather than for a fixed time.
  const began = Date.now();
  while ((starts.install! < 1 || starts.check! < 1) && Date.now() - began < 15_000) await sleep(50);
  await s.stop();
  const elapsed = (Date.now() - began) / 1000;
  t.equal(maxRunning, 1, 'one step at a time');
  t.ok(
    starts.install! >= 1 && starts.install! <= Math.floor(elapsed / 2.5) + 1,
    `install started ${starts.install} time(s) in ${elapsed.toFixed(1)} s, each taking 2.5 s: never twice at once`,
  );
  t.ok(starts.check! >= 1, 'check ran between installs');
  t.equal(running, 0, 'stop waited for the run in flight');
});

t.test('a trigger while the same job waits or runs is refused at once', async (t) => {
  let starts = 0;
  const job: DaemonJob = {
    name: 'install',
    cron: null,
    run: async () => {
      starts++;
      await sleep(2000);
    },
  };
  const s = new DaemonScheduler({ jobs: [job], timezone: null, jitterSeconds: 0, logger });
  const first = s.trigger(job);
  const before = Date.now();
  t.equal(await s.trigger(job), false, 'second trigger refused');
  t.ok(Date.now() - before < 1000, 'without waiting for the first (which takes 2 s)');
  t.equal(await first, true);
  t.equal(starts, 1);
  t.equal(await s.trigger(job), true, 'after it ended, the job runs again');
  await s.stop();
});

t.test('SerialQueue skips a key already queued, runs in order', async (t) => {
  const q = new SerialQueue();
  const order: string[] = [];
  const a = q.run('a', async () => {
    await sleep(50);
    order.push('a');
    return 1;
  });
  const b = q.run('b', async () => void order.push('b'));
  const a2 = await q.run('a', async () => void order.push('a2'));
  t.same(a2, { skipped: true });
  t.same(await a, { skipped: false, value: 1 });
  await b;
  await q.idle();
  t.same(order, ['a', 'b']);
});

t.test('next cron runs honour seconds and the time zone', async (t) => {
  const now = Date.now();
  const everySecond = nextCronRun('* * * * * *', null).getTime();
  t.ok(everySecond > now - 1000 && everySecond <= now + 1000, '6-field cron: within a second');
  // 03:30 in Kolkata is 22:00 UTC (no DST there)
  const next = nextCronRun('30 3 * * *', 'Asia/Kolkata');
  t.equal(next.getUTCHours(), 22);
  t.equal(next.getUTCMinutes(), 0);
  t.ok(next.getTime() > now && next.getTime() <= now + 86_400_000);
  t.throws(() => nextCronRun('not a cron', null, 'schedule.check'), { code: 'PB_ERR_CONFIG' });
});
