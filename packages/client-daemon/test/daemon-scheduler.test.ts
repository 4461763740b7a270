// The daemon's clock in-process: jitter bounds, no overlap, one step at a time, stop. No test
// here waits for real time: waits go through an injected clock, job bodies end when the test
// opens their gate, so a slow or stalled machine cannot make them pass or fail.
import t from 'tap';
import { createLogger } from '@patchbay/core';
import { DaemonScheduler } from '../src/daemon-scheduler.js';
import type { DaemonJob } from '../src/daemon-scheduler.js';
import { jitterDelayMs, waitUnlessAborted } from '../src/jitter.js';
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

/** A promise the test settles by hand: a job body that runs exactly as long as the test says. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** One macrotask: every microtask queued so far (a queued run starting, a promise settling) has run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface HeldWait {
  ms: number;
  signal: AbortSignal;
  /** end the wait as if its time had passed */
  elapse: () => void;
}

/**
 * The scheduler's clock in the test's hand: a wait of 0 ms passes at once (as the real one),
 * any other is held until the test calls elapse(), or ends (false) when its signal aborts.
 */
class ManualClock {
  readonly held: HeldWait[] = [];
  private waiters: (() => void)[] = [];

  readonly wait = (ms: number, signal: AbortSignal): Promise<boolean> => {
    if (signal.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      signal.addEventListener('abort', () => resolve(false), { once: true });
      this.held.push({ ms, signal, elapse: () => resolve(true) });
      for (const wake of this.waiters.splice(0)) wake();
    });
  };

  /** the next held wait (waits for the scheduler to start one) */
  async next(): Promise<HeldWait> {
    while (this.held.length === 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.held.shift()!;
  }
}

/** One job under a manual clock, its jitter `jitterSeconds` × `random`. */
function jittered(
  job: DaemonJob,
  clock: ManualClock,
  jitterSeconds: number,
  random: number,
): DaemonScheduler {
  return new DaemonScheduler({
    jobs: [job],
    timezone: null,
    jitterSeconds,
    logger,
    random: () => random,
    wait: clock.wait,
  });
}

t.test('a triggered run waits its jitter first', async (t) => {
  let ran = false;
  const clock = new ManualClock();
  const job: DaemonJob = { name: 'check', cron: null, run: async () => void (ran = true) };
  const s = jittered(job, clock, 1, 0.6);
  const pending = s.trigger(job);
  const jitter = await clock.next();
  t.equal(jitter.ms, 600, 'random 0.6 of 1 s');
  await settle();
  t.notOk(ran, 'not run while the jitter lasts');
  jitter.elapse();
  t.equal(await pending, true);
  t.ok(ran, 'run once the jitter has passed');
  await s.stop();
});

t.test('stop ends a jitter wait at once and the run does not happen', async (t) => {
  let ran = false;
  const clock = new ManualClock();
  const job: DaemonJob = { name: 'check', cron: null, run: async () => void (ran = true) };
  const s = jittered(job, clock, 60, 0.9);
  const pending = s.trigger(job);
  const jitter = await clock.next();
  t.equal(jitter.ms, 54_000);
  await s.stop();
  t.ok(jitter.signal.aborted, 'stop aborted the wait (the jitter never elapsed)');
  t.equal(await pending, false);
  t.notOk(ran);
});

t.test('waitUnlessAborted: an abort ends a long wait at once', async (t) => {
  const ac = new AbortController();
  const wait = waitUnlessAborted(60_000, ac.signal);
  ac.abort();
  const first = await Promise.race([wait, settle().then(() => 'still waiting')]);
  t.equal(first, false, 'resolved false before the next macrotask, not after 60 s');
  t.equal(await waitUnlessAborted(60_000, ac.signal), false, 'an aborted signal: no wait at all');
  t.equal(await waitUnlessAborted(0, new AbortController().signal), true);
});

t.test('a slow job is not started twice; jobs never run at the same time; stop waits for it', async (t) => {
  let running = 0;
  let maxRunning = 0;
  const starts = { check: 0, install: 0 };
  const gates = { check: gate(), install: gate() };
  const entered = { check: gate(), install: gate() };
  const body = (name: 'check' | 'install') => async () => {
    starts[name]++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    entered[name].open();
    await gates[name].promise;
    running--;
  };
  // Crons that do not fire during the test: the runs below are triggered as a cron would.
  const jobs: DaemonJob[] = [
    { name: 'install', cron: '0 0 1 1 *', run: body('install') },
    { name: 'check', cron: '0 0 1 1 *', run: body('check') },
  ];
  const s = new DaemonScheduler({ jobs, timezone: 'UTC', jitterSeconds: 0, logger });
  s.start();
  t.type(s.nextRuns().install, Date, 'cron jobs know their next run');
  t.equal(s.nextRuns().download, null, 'unscheduled job has none');

  const install = s.runNow('install');
  await entered.install.promise;
  t.equal(await s.runNow('install'), false, 'a second install while the first runs is refused at once');
  const check = s.runNow('check');
  await settle();
  t.equal(starts.check, 0, 'check waits in the queue while install runs');
  gates.install.open();
  t.equal(await install, true);
  await entered.check.promise;
  t.equal(starts.check, 1, 'check ran after the install');

  let stopped = false;
  const stopping = s.stop().then(() => void (stopped = true));
  await settle();
  t.notOk(stopped, 'stop waits for the run in flight');
  gates.check.open();
  await stopping;
  t.equal(await check, true);
  t.equal(maxRunning, 1, 'one step at a time');
  t.same(starts, { check: 1, install: 1 }, 'each started once');
  t.equal(running, 0, 'stop returned after the run in flight ended');
  t.equal(await s.runNow('check'), false, 'no run after stop');
});

t.test('a trigger while the same job waits or runs is refused at once', async (t) => {
  let starts = 0;
  const clock = new ManualClock();
  const release = gate();
  const job: DaemonJob = {
    name: 'install',
    cron: null,
    run: async () => {
      starts++;
      await release.promise;
    },
  };
  const s = jittered(job, clock, 10, 0.5);
  const first = s.trigger(job);
  const jitter = await clock.next();
  t.equal(await s.trigger(job), false, 'refused while the first waits its jitter');
  jitter.elapse();
  await settle();
  t.equal(starts, 1, 'the first is running');
  t.equal(await s.trigger(job), false, 'refused while the first runs');
  release.open();
  t.equal(await first, true);
  t.equal(starts, 1);
  const again = s.trigger(job);
  (await clock.next()).elapse();
  t.equal(await again, true, 'after it ended, the job runs again');
  t.equal(starts, 2);
  await s.stop();
});

t.test('an interval job runs at start, then everySeconds after each run ended', async (t) => {
  let runs = 0;
  const clock = new ManualClock();
  const job: DaemonJob = { name: 'check', cron: null, everySeconds: 30, run: async () => void runs++ };
  const s = new DaemonScheduler({ jobs: [job], timezone: null, jitterSeconds: 0, logger, wait: clock.wait });
  s.start();
  const first = await clock.next();
  t.equal(runs, 1, 'ran at start');
  t.equal(first.ms, 30_000);
  first.elapse();
  const second = await clock.next();
  t.equal(runs, 2, 'ran again when the interval passed');
  await s.stop();
  t.ok(second.signal.aborted, 'stop ended the interval wait');
  t.equal(runs, 2);
});

t.test('SerialQueue skips a key already queued, runs in order', async (t) => {
  const q = new SerialQueue();
  const order: string[] = [];
  const release = gate();
  const a = q.run('a', async () => {
    await release.promise;
    order.push('a');
    return 1;
  });
  const b = q.run('b', async () => void order.push('b'));
  const a2 = await q.run('a', async () => void order.push('a2'));
  t.same(a2, { skipped: true });
  await settle();
  t.same(order, [], 'b waits for a');
  release.open();
  t.same(await a, { skipped: false, value: 1 });
  await b;
  await q.idle();
  t.same(order, ['a', 'b']);
});

t.test('next cron runs honour seconds and the time zone', async (t) => {
  // Bounds from before and after the call: a stall in between cannot fail it.
  const now = Date.now();
  const everySecond = nextCronRun('* * * * * *', null).getTime();
  const after = Date.now();
  t.ok(everySecond > now - 1000 && everySecond <= after + 1000, '6-field cron: within a second');
  // 03:30 in Kolkata is 22:00 UTC (no DST there)
  const next = nextCronRun('30 3 * * *', 'Asia/Kolkata');
  t.equal(next.getUTCHours(), 22);
  t.equal(next.getUTCMinutes(), 0);
  t.ok(next.getTime() > now && next.getTime() <= now + 86_400_000);
  t.throws(() => nextCronRun('not a cron', null, 'schedule.check'), { code: 'PB_ERR_CONFIG' });
});
