// `run` end to end against a real loopback staging server and real sh payloads:
// in-process (runDaemon with short 6-field crons) where possible, spawned CLIs for
// status/install output and SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { Test } from 'tap';
import { DateTime } from 'luxon';
import type { ClientReport, MaintenanceWindow, Weekday } from '@patchbay/core';
import { runDaemon } from '../src/commands/run.js';
import type { DaemonScheduler } from '../src/daemon-scheduler.js';
import { createSession } from '../src/session.js';
import { BIN, makeSandbox } from './fixtures/client.js';
import type { Sandbox } from './fixtures/client.js';
import { buildCatalog, sampleFeedCatalog, startStaging } from './fixtures/staging.js';
import type { BuiltCatalog, FixturePatch, StagingFixture } from './fixtures/staging.js';

const DAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** A UTC window opening `offsetMinutes` from now (negative: already open). */
function windowFromNow(offsetMinutes: number, durationMinutes: number): MaintenanceWindow {
  const start = new Date(Date.now() + offsetMinutes * 60_000);
  const hhmm = `${String(start.getUTCHours()).padStart(2, '0')}:${String(start.getUTCMinutes()).padStart(2, '0')}`;
  return { day: DAYS[start.getUTCDay()]!, start: hhmm, durationMinutes, timezone: 'UTC' };
}

async function setup(t: Test, built: BuiltCatalog): Promise<{ staging: StagingFixture; sb: Sandbox }> {
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  return { staging, sb: makeSandbox(t.testdir(), () => [staging.url]) };
}

function daemonConfig(
  schedule: Record<string, unknown>,
  policy: Record<string, unknown>,
): Record<string, unknown> {
  return {
    schedule: {
      check: null,
      download: null,
      install: null,
      timezone: 'UTC',
      jitterSeconds: 0,
      intervalSeconds: null,
      ...schedule,
    },
    policy: { autoInstall: 'critical', ...policy },
  };
}

interface RunningDaemon {
  done: Promise<number>;
  /** the daemon's scheduler, once its jobs are scheduled (not with `once`) */
  scheduler: Promise<DaemonScheduler>;
  stop: () => Promise<number>;
}

/** runDaemon in this process on the sandbox's config; stop() aborts it and returns the exit code. */
function startDaemon(sb: Sandbox, once = false): RunningDaemon {
  const session = createSession({ config: sb.configPath, json: true }, 'run');
  const ac = new AbortController();
  let started!: (scheduler: DaemonScheduler) => void;
  const scheduler = new Promise<DaemonScheduler>((resolve) => (started = resolve));
  const done = runDaemon(session, { once, stop: ac.signal, onStarted: started }).finally(() =>
    session.close(),
  );
  return {
    done,
    scheduler,
    stop: async () => {
      ac.abort();
      return done;
    },
  };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await sleep(50);
  return cond();
}

const allEvents = (staging: StagingFixture) => staging.reports.flatMap((r) => r.events);

const CRIT_AND_OPT: FixturePatch[] = [
  { id: 'CRIT', severity: 'critical' },
  { id: 'OPT', severity: 'optional' },
];

t.test('run: a 6-field install cron installs critical patches inside an open window', async (t) => {
  const { staging, sb } = await setup(t, buildCatalog(CRIT_AND_OPT));
  sb.writeConfig(daemonConfig({ install: '* * * * * *' }, { maintenanceWindows: [windowFromNow(-5, 60)] }));
  const daemon = startDaemon(sb);
  // The one test of a real cron firing: a bound, not a timing (it returns as soon as CRIT is in).
  t.ok(await until(() => sb.marker('CRIT'), 30_000), 'CRIT installed by the scheduled install');
  t.equal(await daemon.stop(), 0);
  t.notOk(sb.marker('OPT'), 'non-critical patches are only offered');
  t.ok(
    allEvents(staging).some((e) => e.type === 'install' && e.patchId === 'CRIT' && e.outcome === 'ok'),
    'the install reached the server',
  );
  const last = staging.reports.at(-1)!;
  t.same(last.patches.find((p) => p.id === 'OPT')?.state, 'available');
  t.equal(last.pendingReboot, false);
});

t.test('run: nothing installs inside a closed window, but critical files are downloaded', async (t) => {
  const { staging, sb } = await setup(t, buildCatalog(CRIT_AND_OPT));
  // A cron that does not fire during the test: the install run is triggered by hand, as it would.
  sb.writeConfig(daemonConfig({ install: '0 0 1 1 *' }, { maintenanceWindows: [windowFromNow(180, 10)] }));
  const daemon = startDaemon(sb);
  const scheduler = await daemon.scheduler;
  await scheduler.startRunsSettled();
  t.equal(await scheduler.runNow('install'), true, 'the scheduled install ran (after the start-up check)');
  t.equal(await daemon.stop(), 0);
  t.notOk(sb.marker('CRIT'), 'no scheduled install outside the window');
  t.same(sb.orderLog(), []);
  const patches = staging.reports.at(-1)!.patches as (ClientReport['patches'][number] & {
    cached?: boolean;
  })[];
  t.same(
    patches.map((p) => [p.id, p.state, p.cached]).sort(),
    [
      ['CRIT', 'downloaded', true],
      ['OPT', 'available', false],
    ],
    'the check downloaded the critical patch only; reports say what is cached',
  );
});

t.test('run: autoInstall none downloads and installs nothing', async (t) => {
  const { staging, sb } = await setup(t, buildCatalog(CRIT_AND_OPT));
  sb.writeConfig(daemonConfig({ install: '* * * * * *', download: '* * * * * *' }, { autoInstall: 'none' }));
  const daemon = startDaemon(sb);
  const scheduler = await daemon.scheduler;
  t.same(
    scheduler.nextRuns(),
    { check: null, download: null, install: null },
    'the download and install crons are not scheduled at all',
  );
  await scheduler.startRunsSettled();
  // Triggered by hand all the same, neither step downloads or installs anything.
  t.equal(await scheduler.runNow('download'), true, 'a download run triggered by hand');
  t.equal(await scheduler.runNow('install'), true, 'an install run triggered by hand');
  t.equal(await daemon.stop(), 0);
  t.notOk(sb.marker('CRIT'));
  t.same(
    staging.requests.filter((r) => r.url.startsWith('/v1/blobs/')),
    [],
    'no blob was fetched',
  );
  t.ok(
    allEvents(staging).some((e) => e.type === 'check'),
    'the start-up check reported',
  );
});

t.test('a failing preInstallCheck postpones the install and says why in the history', async (t) => {
  const { staging, sb } = await setup(t, buildCatalog(CRIT_AND_OPT));
  sb.writeConfig(
    daemonConfig({}, { preInstallCheck: { command: ['sh', '-c', 'echo backup running; exit 4'] } }),
  );
  t.equal(await startDaemon(sb, true).done, 0, 'a postponed install is not a failure');
  t.notOk(sb.marker('CRIT'));
  const postponed = allEvents(staging).find((e) => e.type === 'install' && e.outcome === 'postponed');
  t.ok(postponed, 'the postponed event reached the server');
  t.notOk(postponed && 'patchId' in postponed, 'it names no single patch');
  t.match(postponed?.message, /CRIT.*postponed.*exited with code 4/);

  sb.writeConfig(
    daemonConfig({}, { preInstallCheck: { command: ['sh', '-c', 'sleep 5'], timeoutSeconds: 1 } }),
  );
  await startDaemon(sb, true).done;
  t.match(
    allEvents(staging)
      .filter((e) => e.outcome === 'postponed')
      .at(-1)?.message,
    /timed out after 1 s/,
  );
  t.notOk(sb.marker('CRIT'));

  sb.writeConfig(daemonConfig({}, { preInstallCheck: { command: ['true'] } }));
  t.equal(await startDaemon(sb, true).done, 0);
  t.ok(sb.marker('CRIT'), 'installs once the check passes');
  t.notOk(sb.marker('OPT'));
});

t.test('reboot "allowed" runs the reboot command once; "never" does not', async (t) => {
  const built = buildCatalog([{ id: 'RB', severity: 'critical', rebootRequired: true }]);
  const { staging, sb } = await setup(t, built);
  const marker = path.join(sb.dir, 'rebooted');
  sb.writeConfig(daemonConfig({}, { reboot: 'never', rebootCommand: ['touch', marker] }));
  t.equal(await startDaemon(sb, true).done, 0);
  t.ok(sb.marker('RB'));
  t.notOk(existsSync(marker), 'never: no reboot');
  t.equal(staging.reports.at(-1)?.pendingReboot, true, 'the report carries pendingReboot');

  sb.writeConfig(daemonConfig({}, { reboot: 'allowed', rebootCommand: ['touch', marker] }));
  t.equal(await startDaemon(sb, true).done, 0);
  t.ok(existsSync(marker), 'allowed: the reboot command ran');
  const reboot = allEvents(staging).find((e) => e.outcome === 'reboot');
  t.match(reboot?.message, /reboot requested for RB/);
  t.equal(staging.reports.at(-1)?.pendingReboot, true, 'still pending until the host has booted');

  rmSync(marker);
  await startDaemon(sb, true).done;
  t.notOk(existsSync(marker), 'the command runs once per pending reboot');
});

t.test('pendingReboot and status after installing the sample feed T5KB0207', async (t) => {
  const { staging, sb } = await setup(t, sampleFeedCatalog());
  sb.writeConfig({
    schedule: { check: '30 3 * * *', install: '0 2 * * 6', timezone: 'Asia/Kolkata', jitterSeconds: 0 },
    policy: {
      autoInstall: 'critical',
      maintenanceWindows: [{ day: 'sat', start: '01:00', durationMinutes: 240 }],
    },
  });
  const check = await sb.run(['check']);
  t.equal(check.code, 0, check.stderr);
  t.equal(staging.reports.at(-1)?.pendingReboot, false);
  const install = await sb.json<{ results: { id: string; outcome: string }[] }>(['install', 'T5KB0207']);
  t.same(install.doc.results, [{ id: 'T5KB0207', outcome: 'ok', message: 'installed' }], install.stderr);
  const last = staging.reports.at(-1) as ClientReport & { patches: { id: string; cached?: boolean }[] };
  t.equal(last.pendingReboot, true, 'the report after the install says a reboot is pending');
  t.equal(
    last.patches.find((p) => p.id === 'T5KB0207')?.cached,
    false,
    'installed, so cache.prune removed its file',
  );
  t.match(
    allEvents(staging).find((e) => e.patchId === 'T5KB0207' && e.type === 'install')?.message,
    /reboot/,
  );

  const status = await sb.json<{
    patches: { id: string; state: string }[];
    pendingReboot: boolean;
    schedule: Record<string, unknown>;
  }>(['status']);
  t.equal(status.code, 0);
  t.equal(status.doc.pendingReboot, true);
  t.equal(status.doc.patches.find((p) => p.id === 'T5KB0207')?.state, 'installed', 'patches list unchanged');
  const now = DateTime.now().setZone('Asia/Kolkata');
  let check330 = now.set({ hour: 3, minute: 30, second: 0, millisecond: 0 });
  if (check330 <= now) check330 = check330.plus({ days: 1 });
  let sat2 = now
    .set({ hour: 2, minute: 0, second: 0, millisecond: 0 })
    .plus({ days: (6 - (now.weekday % 7) + 7) % 7 });
  if (sat2 <= now) sat2 = sat2.plus({ days: 7 });
  t.match(status.doc.schedule, {
    timezone: 'Asia/Kolkata',
    jitterSeconds: 0,
    nextCheckAt: check330.toUTC().toISO(),
    nextDownloadAt: null,
    nextInstallAt: sat2.toUTC().toISO(),
    maintenanceWindow: { open: Boolean },
  });
  const human = await sb.run(['status']);
  t.match(human.stdout, /next check .*install .*time zone Asia\/Kolkata/);
  t.match(human.stdout, /pending reboot: T5KB0207/);
});

t.test('run --once with the staging server gone works from the kept metadata (trust v2)', async (t) => {
  const { staging, sb } = await setup(t, buildCatalog(CRIT_AND_OPT));
  sb.writeConfig(daemonConfig({}, {}));
  t.equal(
    (await sb.run(['download', 'CRIT'])).code,
    0,
    'metadata verified and the file fetched while online',
  );
  await staging.close();
  t.equal(await startDaemon(sb, true).done, 0, 'the steps ran offline');
  t.ok(sb.marker('CRIT'), 'installed from the kept metadata and the cached file');
  t.notOk(sb.marker('OPT'));
  const ledger = sb.ledger();
  t.ok(
    ledger.events.some((e) => e.type === 'check' && /staging server unreachable/.test(e.message ?? '')),
    'the check event says it worked offline',
  );
  t.ok(ledger.lastAckedSeq < ledger.events.at(-1)!.seq, 'the events wait for the server');
});

// SIGINT too: under WinSW on Windows a service stop is a Ctrl+C, which Node sees as SIGINT.
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  t.test(`${signal} during a scheduled install: it finishes, exit 0, consistent ledger`, async (t) => {
    const { sb } = await setup(t, buildCatalog([{ id: 'SLOW', severity: 'critical', kind: 'slow' }]));
    sb.writeConfig(daemonConfig({ install: '* * * * * *' }, {}));
    const child = spawn(process.execPath, [BIN, '--config', sb.configPath, 'run'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.ok(await until(() => sb.orderLog().includes('install SLOW started'), 60_000), 'the install started');
    child.kill(signal);
    t.equal(await exited, 0, `exit 0 after ${signal}`);
    t.ok(sb.marker('SLOW'), 'the install in flight was allowed to finish');
    const ledger = JSON.parse(readFileSync(path.join(sb.dataDir, 'ledger.json'), 'utf8'));
    t.same(ledger.pending, {}, 'nothing left pending');
    t.equal(ledger.patches.SLOW?.state, 'installed');
    t.ok(
      ledger.events.some(
        (e: { type: string; patchId?: string; outcome: string }) =>
          e.type === 'install' && e.patchId === 'SLOW' && e.outcome === 'ok',
      ),
    );
  });
