// A patch's exit-code lists (rebootExitCodes, retryExitCodes) and {log}, the installer's own
// log: real sh installers exiting stand-ins of 3010, 1641, 1618, 1603 against a loopback staging server,
// the commands and the daemon's install step run in this process (few child processes).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import type { Test } from 'tap';
import { validateReport } from '@patchbay/core';
import type { ClientConfig } from '@patchbay/core';
import { installFakeTool } from '../../../test/helpers/fake-windows-tool.js';
import { installCommand } from '../src/commands/install.js';
import { uninstallCommand } from '../src/commands/uninstall.js';
import { EXIT_POSTPONED } from '../src/commands/common.js';
import { statusCommand } from '../src/commands/status.js';
import { installStep } from '../src/daemon-steps.js';
import { classifyResult, runPatchCommand } from '../src/installer.js';
import type { RunResult } from '../src/process-runner.js';
import { Output } from '../src/output.js';
import { createSession } from '../src/session.js';
import { makeSandbox } from './fixtures/client.js';
import type { Sandbox } from './fixtures/client.js';
import { runInProcess } from './fixtures/in-process.js';
import { buildCatalog, PRODUCT, sampleFeedCatalog, startStaging } from './fixtures/staging.js';
import type { FixturePatch, StagingFixture } from './fixtures/staging.js';

/** The lists docs/windows.md recommends for msiexec. */
const MSI_SPEC = { command: ['msiexec'], rebootExitCodes: [3010, 1641], retryExitCodes: [1618] };

/**
 * A POSIX exit status has 8 bits (`exit 3010` arrives as 194), so the real installers here
 * exit with stand-ins of the same classes: 30 for 3010, 41 for 1641 (reboot), 18 for 1618
 * (retry), 63 for 1603 (in no list). The Windows numbers are classed below without a process.
 */
const CODED = { kind: 'coded', rebootExitCodes: [30, 41], retryExitCodes: [18] } as const;

function exited(exitCode: number | null, more: Partial<RunResult> = {}): RunResult {
  return { exitCode, signal: null, timedOut: false, durationMs: 1, ...more };
}

t.test(
  "Windows Installer's codes under the recommended lists; timeouts, signals, spawn errors always fail",
  async (t) => {
    const cases: [RunResult, string][] = [
      [exited(0), 'success'],
      [exited(3010), 'reboot'],
      [exited(1641), 'reboot'],
      [exited(1618), 'retry'],
      [exited(1603), 'failure'],
      [exited(1619), 'failure'],
      [exited(1638), 'failure'],
      [exited(1618, { timedOut: true }), 'failure'],
      [exited(null, { signal: 'SIGKILL' }), 'failure'],
      [exited(null, { spawnError: new Error('spawn msiexec ENOENT') }), 'failure'],
    ];
    for (const [result, kind] of cases)
      t.equal(classifyResult(MSI_SPEC, result), kind, JSON.stringify(result));
    t.equal(classifyResult({ command: ['x'] }, exited(3010)), 'failure', 'without lists only 0 succeeds');
    t.equal(
      classifyResult({ command: ['x'], successExitCodes: [1] }, exited(0)),
      'failure',
      'a given list replaces [0]',
    );
  },
);

interface Result {
  id: string;
  outcome: string;
  message: string;
  postponed?: boolean;
}

async function setup(t: Test, patches: FixturePatch[]): Promise<{ staging: StagingFixture; sb: Sandbox }> {
  const staging = await startStaging(buildCatalog(patches));
  t.teardown(() => staging.close());
  return { staging, sb: makeSandbox(t.testdir(), () => [staging.url]) };
}

/** What the patch's installer exits with from now on. */
function exitWith(sb: Sandbox, id: string, code: number): void {
  writeFileSync(path.join(sb.installDir, `exit-code.${id}`), String(code));
}

async function install(sb: Sandbox, ids: string[]): Promise<{ code: number; results: Result[] }> {
  const ran = await runInProcess(sb, installCommand, ids);
  t.notOk(ran.error, ran.error?.message);
  return { code: ran.code, results: ran.doc.results as Result[] };
}

async function states(sb: Sandbox): Promise<Record<string, string>> {
  const ran = await runInProcess(sb, statusCommand);
  const patches = ran.doc.patches as { id: string; state: string }[];
  return Object.fromEntries(patches.map((p) => [p.id, p.state]));
}

t.test(
  'reboot exit codes (30, 41 standing for 3010, 1641): installed, a reboot pending, the event names the code',
  async (t) => {
    const { staging, sb } = await setup(t, [
      { id: 'R1', ...CODED },
      { id: 'R2', ...CODED },
    ]);
    exitWith(sb, 'R1', 30);
    exitWith(sb, 'R2', 41);
    const { code, results } = await install(sb, ['R1', 'R2']);
    t.equal(code, 0);
    t.same(
      results.map((r) => [r.id, r.outcome]),
      [
        ['R1', 'ok'],
        ['R2', 'ok'],
      ],
    );
    const ledger = sb.ledger() as ReturnType<Sandbox['ledger']> & { reboot: { patchIds: string[] } | null };
    t.same(ledger.reboot?.patchIds, ['R1', 'R2'], 'the reboot flag names both');
    const installs = ledger.events.filter((e) => e.type === 'install');
    t.same(
      installs.map((e) => [e.patchId, e.outcome, e.message]),
      [
        ['R1', 'ok', 'installed; exit code 30 asks for a reboot of the host'],
        ['R2', 'ok', 'installed; exit code 41 asks for a reboot of the host'],
      ],
    );
    t.equal(staging.reports.at(-1)?.pendingReboot, true, 'the report says a reboot is pending');
    t.same(await states(sb), { R1: 'installed', R2: 'installed' });
  },
);

t.test(
  'retry exit code (18 standing for 1618): postponed, not failed; its dependant skipped; the next scheduled install installs both',
  async (t) => {
    const { staging, sb } = await setup(t, [
      { id: 'P', severity: 'critical', ...CODED },
      { id: 'D', severity: 'critical', requires: ['P'] },
      { id: 'U', severity: 'critical' },
    ]);
    exitWith(sb, 'P', 18);
    const first = await install(sb, ['D', 'U']);
    t.equal(first.code, EXIT_POSTPONED, 'exit 75: nothing failed, something was postponed');
    const byId = Object.fromEntries(first.results.map((r) => [r.id, r]));
    t.same(
      [byId.P?.outcome, byId.P?.postponed],
      ['skipped', true],
      'CONTRACT §3 outcomes: skipped, marked postponed',
    );
    t.match(
      byId.P?.message,
      /^install P: exit code 18 asks to try again later \(retryExitCodes\) \(log: .+\); postponed to the next install; waiting for it: D$/,
    );
    t.same([byId.D?.outcome, byId.D?.message], ['skipped', 'requirement P postponed']);
    t.equal(byId.U?.outcome, 'ok', 'an unrelated patch still installs');
    t.same(sb.orderLog(), ['install P', 'install U'], 'D never ran');

    const ledger = sb.ledger() as ReturnType<Sandbox['ledger']> & { patches: Record<string, unknown> };
    t.notOk(ledger.patches.P, 'nothing recorded against P');
    t.notOk(
      ledger.events.some((e) => e.outcome === 'failed'),
      'no failure anywhere',
    );
    const postponed = ledger.events.filter((e) => e.outcome === 'postponed');
    t.same(
      postponed.map((e) => [e.type, e.patchId]),
      [['install', 'P']],
    );
    const s = await states(sb);
    t.same([s.P, s.D, s.U], ['downloaded', 'available', 'installed'], 'P and D keep their states');
    const report = staging.reports.find((r) => r.events.some((e) => e.outcome === 'postponed'));
    t.ok(report, 'the postponed event was reported');
    t.doesNotThrow(() => validateReport(report), 'the server schema takes the new outcome');

    // the daemon's next scheduled install (critical patches, no window = always open)
    exitWith(sb, 'P', 0);
    sb.writeConfig({ policy: { autoInstall: 'critical' } });
    const session = createSession({ config: sb.configPath, json: true }, 'run', {});
    session.out = new Output(true, new PassThrough().resume(), new PassThrough().resume());
    try {
      t.equal(await installStep(session, { shouldStop: () => false }), true);
    } finally {
      await session.close();
    }
    t.same(sb.orderLog(), ['install P', 'install U', 'install P', 'install D']);
    t.same(await states(sb), { P: 'installed', D: 'installed', U: 'installed' });
  },
);

t.test(
  'an uninstall asked to wait (18 for 1618) leaves the patch installed; a reboot code uninstalls and flags',
  async (t) => {
    const { sb } = await setup(t, [{ id: 'W', ...CODED }]);
    t.equal((await install(sb, ['W'])).code, 0);
    exitWith(sb, 'W', 18);
    const waited = await runInProcess(sb, uninstallCommand, ['W']);
    t.equal(waited.code, EXIT_POSTPONED);
    const [result] = waited.doc.results as Result[];
    t.same([result?.outcome, result?.postponed], ['skipped', true]);
    t.match(result?.message, /exit code 18 asks to try again later .*; postponed: uninstall it again later$/);
    t.same(await states(sb), { W: 'installed' }, 'still installed, never failed');
    exitWith(sb, 'W', 30);
    t.equal((await runInProcess(sb, uninstallCommand, ['W'])).code, 0);
    const ledger = sb.ledger() as ReturnType<Sandbox['ledger']> & { reboot: { patchIds: string[] } | null };
    t.same(ledger.reboot?.patchIds, ['W']);
    t.same(
      ledger.events.filter((e) => e.type === 'uninstall').map((e) => [e.outcome, e.message]),
      [
        ['postponed', result?.message],
        ['ok', 'uninstalled; exit code 30 asks for a reboot of the host'],
      ],
    );
    t.same(await states(sb), { W: 'uninstalled' });
  },
);

t.test(
  'a code in no list is a failure naming the lists; the failure carries the installer log (UTF-16LE)',
  async (t) => {
    const { staging, sb } = await setup(t, [
      { id: 'F', ...CODED, installerLog: true },
      { id: 'G', requires: ['F'] },
    ]);
    exitWith(sb, 'F', 63);
    // as msiexec /l*v writes it: UTF-16LE with a byte order mark, CRLF line ends
    const msiLog = [
      '=== Verbose logging started: 12/7/2026  20:30:00  Build type: SHIP UNICODE 5.00.10011.00 ===',
      'MSI (s) (A4:5C) [20:30:01:015]: Product: Arcserve Backup -- Installation failed.',
      'MSI (s) (A4:5C) [20:30:01:016]: Windows Installer installed the product. Installation success or error status: 1603.',
      'MSI (c) (F8:AC) [20:30:01:020]: MainEngineThread is returning 1603',
      '=== Verbose logging stopped: 12/7/2026  20:30:01 ===',
      '',
    ].join('\r\n');
    writeFileSync(
      path.join(sb.installDir, 'installer-log.F'),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(msiLog, 'utf16le')]),
    );
    // six installer logs of earlier runs: with this run's, the newest five stay
    const logsDir = path.join(sb.dataDir, 'logs');
    mkdirSync(logsDir, { recursive: true });
    for (let d = 1; d <= 6; d++)
      writeFileSync(path.join(logsDir, `F-install-2020-01-0${d}T00-00-00-000Z.installer.log`), 'old');
    const { code, results } = await install(sb, ['G']);
    t.equal(code, 1);
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));
    t.same([byId.F?.outcome, byId.G?.outcome, byId.G?.message], ['failed', 'failed', 'requirement F failed']);
    t.match(
      byId.F?.message,
      /^install F: exit code 63 is not a success code \(0\); nor in the patch's reboot: 30, 41; retry: 18 \(log: .+; installer log: .+, ending: .*MainEngineThread is returning 1603 \| === Verbose logging stopped: 12\/7\/2026 {2}20:30:01 ===\)$/,
    );

    // {log} was a fresh path in the logs dir, next to the run's log
    const logPath = readFileSync(path.join(sb.installDir, 'log-path.F'), 'utf8').trim();
    t.equal(path.dirname(logPath), path.join(sb.dataDir, 'logs'));
    t.match(path.basename(logPath), /^F-install-\d{4}-\d\d-\d\dT[\d-]+Z\.installer\.log$/);
    t.ok(existsSync(logPath.replace(/\.installer\.log$/, '.log')), "the run's own log is beside it");
    t.equal(statSync(logPath).mode & 0o777, 0o600, 'made private whatever mode the installer gave it');
    t.same(
      readdirSync(logsDir)
        .filter((n) => n.endsWith('.installer.log'))
        .sort(),
      [
        ...[3, 4, 5, 6].map((d) => `F-install-2020-01-0${d}T00-00-00-000Z.installer.log`),
        path.basename(logPath),
      ],
      'older installer logs of F pruned to the newest five',
    );

    const failed = sb.ledger().events.find((e) => e.patchId === 'F' && e.type === 'install') as
      { outcome: string; output?: string } | undefined;
    t.equal(failed?.outcome, 'failed');
    const output = failed?.output ?? '';
    t.match(
      output,
      /^exit 63\n--- F-install-.+\.installer\.log \(last lines\) ---\n=== Verbose logging started/,
    );
    t.match(
      output,
      /Installation success or error status: 1603\.\nMSI \(c\) \(F8:AC\)/,
      'decoded, CRLF as LF',
    );
    t.notOk(
      ['\r', '\u0000', '\uFEFF'].some((c) => output.includes(c)),
      'no CR, NUL or BOM left',
    );
    const reported = staging.reports
      .flatMap((r) => r.events)
      .find((e) => e.patchId === 'F' && e.type === 'install');
    t.equal(reported?.output, output, 'reported with the event');
    t.same(await states(sb), { F: 'failed', G: 'failed' }, 'as any failure: the dependant fails with it');
  },
);

t.test(
  "the sample feed's MSP patch through a fake msiexec first on PATH: argv, {log}, classes",
  async (t) => {
    const patch = sampleFeedCatalog().catalog.patches.find((p) => p.id === 'T5KB0217');
    if (!patch?.uninstall) throw new Error('the sample feed has no T5KB0217 with an uninstall');
    const dir = t.testdir({ 'T5KB0217.msp': 'stand-in', 'exit-code': '0' });
    // as msiexec /l*v writes its log: UTF-16LE with a BOM, at the path after /l*v
    const msiLog =
      'MSI (s) (A4:5C): Product: Arcserve Backup -- Installation failed.\r\nMainEngineThread is returning 1603\r\n';
    writeFileSync(
      path.join(dir, 'msi.log'),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(msiLog, 'utf16le')]),
    );
    const msiexec = installFakeTool(
      dir,
      'msiexec',
      [
        'log=; prev=',
        'for a in "$@"; do [ "$prev" = "/l*v" ] && log="$a"; prev="$a"; done',
        `cp '${path.join(dir, 'msi.log')}' "$log"`,
        `exit "$(cat '${path.join(dir, 'exit-code')}')"`,
      ].join('\n'),
    );
    const config = {
      dataDir: dir,
      products: [{ id: PRODUCT, release: patch.release, installDir: path.join(dir, 'install') }],
    } as unknown as ClientConfig;
    const logsDir = path.join(dir, 'logs');
    const staged = path.join(dir, 'T5KB0217.msp');
    const run = (action: 'install' | 'uninstall') =>
      runPatchCommand(patch, action, action === 'install' ? patch.install : patch.uninstall!, {
        config,
        files: { 'T5KB0217.msp': staged },
        cwd: dir,
        logsDir,
      });

    // a patch tried every scheduled run: 25 earlier runs' logs of each kind wait in logs/
    mkdirSync(logsDir);
    for (let day = 1; day <= 25; day++) {
      const earlier = `T5KB0217-install-2026-11-${String(day).padStart(2, '0')}T01-30-00-000Z`;
      writeFileSync(path.join(logsDir, `${earlier}.log`), 'an earlier run');
      writeFileSync(path.join(logsDir, `${earlier}.installer.log`), 'an earlier installer log');
    }
    const installed = await run('install');
    t.equal(installed.kind, 'success');
    const kept = readdirSync(logsDir);
    t.equal(kept.filter((n) => /Z\.log$/.test(n)).length, 20, 'run logs: the newest 20 kept');
    t.equal(kept.filter((n) => n.endsWith('.installer.log')).length, 5, 'installer logs: the newest 5');
    t.ok(kept.includes(path.basename(installed.logPath)), "this run's log among them");
    t.ok(kept.includes(path.basename(installed.installerLogPath)), "and this run's installer log");
    writeFileSync(path.join(dir, 'exit-code'), '3');
    const failed = await run('uninstall');
    t.equal(failed.kind, 'failure');
    const [installArgv, uninstallArgv] = msiexec.calls();
    t.same(installArgv, ['/p', staged, '/qn', '/norestart', '/l*v', installed.installerLogPath]);
    t.same(uninstallArgv, [
      '/package',
      '{5C8F3A21-7D4B-4E6A-9B1C-2F0D8E7A6B19}',
      '/uninstall',
      '{A3E1C7B2-4F9D-4C28-8E5A-1B6D9F0C3E47}',
      '/qn',
      '/norestart',
      '/l*v',
      failed.installerLogPath,
    ]);
    t.match(path.basename(failed.installerLogPath), /^T5KB0217-uninstall-.+\.installer\.log$/);
    t.match(
      failed.message,
      /exit code 3 is not a success code \(0\); nor in the patch's reboot: 3010, 1641; retry: 1618/,
    );
    t.match(
      failed.output,
      /--- T5KB0217-uninstall-.+\.installer\.log \(last lines\) ---\nMSI \(s\) \(A4:5C\): Product: Arcserve Backup -- Installation failed\.\nMainEngineThread is returning 1603$/,
    );
    // what Windows would return, under the patch's own signed lists
    const classes = [0, 3010, 1641, 1618, 1603].map((code) => classifyResult(patch.install, exited(code)));
    t.same(classes, ['success', 'reboot', 'reboot', 'retry', 'failure']);
  },
);
