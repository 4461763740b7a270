// The sample feed's Windows patches on a simulated Windows host, on Linux: each one's detect rule
// against what a Windows host would answer (a stand-in reg.exe replaying hand-written reg.exe
// output, real PE files built by mingw-w64), what the planner then does with the answers, and
// the installer argv and exit-code classes the host would run them with.
import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { exitCodeClass, expandCommand } from '@patchbay/core';
import type { ClientConfig, ContentStore, FeedPatch, HostKnowledge, Logger } from '@patchbay/core';
import { detectInstalled } from '../src/inventory.js';
import { planInstall } from '../src/planner.js';
import { createRegQuery } from '../src/windows/reg-query.js';
import { installFakeReg } from './fixtures/fake-reg.js';
import { buildPeProgram, requireMingw } from './fixtures/mingw.js';
import { sampleFeedCatalog } from './fixtures/staging.js';

const { catalog } = sampleFeedCatalog();
const WINDOWS = ['T5KB0217', 'T5KB0218', 'T5KB0219', 'T5KB0220'];
/** T5KB0217's product and patch codes, as the sample feed makes them up */
const CU2_PRODUCT = '{5C8F3A21-7D4B-4E6A-9B1C-2F0D8E7A6B19}';
const CU2_PATCH = '{A3E1C7B2-4F9D-4C28-8E5A-1B6D9F0C3E47}';
const patches = WINDOWS.map((id) => catalog.patches.find((p) => p.id === id)!);
const fixtures = (host: string): string =>
  fileURLToPath(new URL(`./fixtures/reg-query-sample-${host}/`, import.meta.url));

/** A Windows host's answers: reg.exe from `host`'s fixtures, tapeeng.exe at `tapeVersion`. */
function simulatedHost(t: Test, host: 'patched' | 'behind', tapeVersion: string) {
  const dir = t.testdir();
  const fake = installFakeReg(dir, fixtures(host));
  const installDir = path.join(dir, 'Arcserve Backup');
  mkdirSync(installDir);
  // The rule names `{installDir}\tapeeng.exe`. On Linux a backslash is a character of a file name,
  // so the file the rule reads here is the one called "Arcserve Backup\tapeeng.exe" in `dir`.
  renameSync(buildPeProgram(dir, 'tapeeng.exe', tapeVersion), `${installDir}\\tapeeng.exe`);
  const warnings: Record<string, unknown>[] = [];
  const deps = {
    config: {
      dataDir: dir,
      products: [{ id: 'arcserve-backup', release: '19.0', installDir }],
    } as ClientConfig,
    store: { blobPath: () => '' } as unknown as ContentStore,
    logger: { warn: (fields: Record<string, unknown>) => warnings.push(fields) } as unknown as Logger,
    regQuery: createRegQuery({ env: { PATH: `${fake.binDir}:${process.env.PATH ?? ''}` } }),
  };
  return { deps, fake, warnings };
}
type Test = Parameters<Parameters<typeof t.test>[1]>[0];

async function detectAll(deps: Parameters<typeof detectInstalled>[1]): Promise<Record<string, boolean>> {
  const entries = await Promise.all(
    patches.map(async (p: FeedPatch) => [p.id, (await detectInstalled(p, deps)) === true] as const),
  );
  return Object.fromEntries(entries);
}

const knowledge = (installed: Record<string, boolean>): HostKnowledge => ({
  installed: new Set(Object.keys(installed).filter((id) => installed[id])),
  downloaded: new Set(),
  failed: new Map(),
  uninstalled: new Set(),
});

if (requireMingw(t)) {
  t.test('a host with every Windows patch: each rule reads it installed, nothing is planned', async (t) => {
    const { deps, fake, warnings } = simulatedHost(t, 'patched', '19.0.2215.3');
    const detected = await detectAll(deps);
    t.same(detected, { T5KB0217: true, T5KB0218: true, T5KB0219: true, T5KB0220: true });
    t.same(warnings, [], 'nothing to warn about');
    t.same(
      fake.calls().sort(),
      [
        // msiPatch: the patch's State under its product, 64-bit view
        'query HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\12A3F8C5B4D7A6E4B9C1F2D0E8A7B691\\Patches\\2B7C1E3AD9F482C4E8A5B1D6F9C0E374 /v State /reg:64',
        // msiProduct: the product's InstallProperties
        'query HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\E8F46B2D71A359C40B2EF7A1C5D9E863\\InstallProperties /reg:64',
        // registry: the 32-bit agent's value, in the 32-bit view
        'query "HKLM\\SOFTWARE\\ComputerAssociates\\CA ARCServe Backup\\UniversalAgent" /v Version /reg:32',
      ].sort(),
      'reg.exe asked exactly what each rule needs',
    );
    const plan = planInstall(
      catalog,
      { platform: 'win32', products: [{ id: 'arcserve-backup', release: '19.0' }] },
      knowledge(detected),
      WINDOWS,
    );
    t.same(
      plan.order.map((p) => p.id),
      [],
      'nothing left to install',
    );
  });

  t.test('a host one build behind on each: none installed, planned in requirement order', async (t) => {
    const { deps, warnings } = simulatedHost(t, 'behind', '19.0.2215.2');
    const detected = await detectAll(deps);
    t.same(detected, { T5KB0217: false, T5KB0218: false, T5KB0219: false, T5KB0220: false });
    t.same(warnings, [], 'an older version or an unregistered patch is an answer, not a problem');
    const plan = planInstall(
      catalog,
      { platform: 'win32', products: [{ id: 'arcserve-backup', release: '19.0' }] },
      knowledge(detected),
      ['T5KB0219'],
    );
    t.same(
      plan.order.map((p) => p.id),
      ['T5KB0217', 'T5KB0219'],
      'the tape hotfix after the cumulative update it requires',
    );
  });

  t.test('the boundaries of the sample rules: the exact versions count as installed', async (t) => {
    const older = simulatedHost(t, 'behind', '19.0.2215.3');
    t.same(
      (await detectAll(older.deps)).T5KB0219,
      true,
      'tapeeng.exe at exactly 19.0.2215.3 satisfies >= 19.0.2215.3',
    );
  });
}

t.test('each Windows patch: the argv a Windows host runs, placeholders expanded, no shell', async (t) => {
  const installDir = 'C:\\Program Files\\CA\\ARCserve Backup';
  const staged = 'C:\\ProgramData\\patchbay\\client\\staging\\T';
  const log = 'C:\\ProgramData\\patchbay\\client\\logs\\T-install.installer.log';
  const argv = (patch: FeedPatch, action: 'install' | 'uninstall'): string[] | undefined => {
    const spec = patch[action];
    if (!spec) return undefined;
    const files = Object.fromEntries(patch.files.map((f) => [f.name, `${staged}\\${f.name}`]));
    return expandCommand(spec.command, {
      files,
      installDir,
      release: patch.release,
      patchId: patch.id,
      dataDir: 'C:\\ProgramData\\patchbay\\client',
      log,
    });
  };
  const [cu2, agent, tape, universal] = patches as [FeedPatch, FeedPatch, FeedPatch, FeedPatch];
  // msiexec's quiet, no-restart, verbose-log switches: the tail of each msiexec argv
  const quietLogged = ['/qn', '/norestart', '/l*v', log];
  t.same(argv(cu2, 'install'), ['msiexec', '/p', `${staged}\\T5KB0217.msp`, ...quietLogged]);
  t.same(
    argv(cu2, 'uninstall'),
    ['msiexec', '/package', CU2_PRODUCT, '/uninstall', CU2_PATCH, ...quietLogged],
    'the GUIDs in braces stay literal: they are not placeholders',
  );
  t.same(argv(agent, 'install'), ['msiexec', '/i', `${staged}\\T5KB0218.msi`, ...quietLogged]);
  t.equal(argv(agent, 'uninstall'), undefined, 'a major upgrade has no uninstall');
  const innoSwitches = ['/VERYSILENT', '/SUPPRESSMSGBOXES', '/NORESTART', `/LOG=${log}`];
  t.same(argv(tape, 'install'), [`${staged}\\T5KB0219.exe`, ...innoSwitches]);
  t.equal(argv(tape, 'uninstall')?.[0], `${installDir}\\Patches\\T5KB0219\\unins000.exe`);
  t.same(argv(universal, 'install'), [`${staged}\\T5KB0220.exe`, ...innoSwitches]);
});

t.test(
  "each Windows patch's exit codes: Windows Installer's meanings for msiexec, Inno's for setups",
  async (t) => {
    const CODES = [0, 3010, 1641, 1618, 1603, 1620, 1];
    const classes = (patch: FeedPatch, action: 'install' | 'uninstall'): Record<number, string> => {
      const spec = patch[action]!;
      return Object.fromEntries(CODES.map((c) => [c, exitCodeClass(spec, c) ?? 'failure']));
    };
    const msiexec = {
      ...Object.fromEntries(CODES.map((c) => [c, 'failure'])),
      0: 'success',
      3010: 'reboot',
      1641: 'reboot',
      1618: 'retry',
    };
    const [cu2, agent, tape, universal] = patches as [FeedPatch, FeedPatch, FeedPatch, FeedPatch];
    t.same(classes(cu2, 'install'), msiexec, 'T5KB0217 install');
    t.same(classes(cu2, 'uninstall'), msiexec, 'T5KB0217 uninstall');
    t.same(classes(agent, 'install'), msiexec, 'T5KB0218 install');
    const setup = { ...Object.fromEntries(CODES.map((c) => [c, 'failure'])), 0: 'success' };
    t.same(classes(tape, 'install'), setup, 'T5KB0219: Inno Setup has no reboot or retry codes');
    t.same(classes(universal, 'install'), setup, 'T5KB0220');
  },
);
