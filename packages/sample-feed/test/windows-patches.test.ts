import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, validateFeed, type Feed, type FeedPatch } from '@patchbay/core';
import { generateSampleFeed } from '../src/sample-feed.js';

// The sample feed's Windows patches as the programs see them: the generated feed.json checked
// by core's validator (the compiled docs/feed.schema.json every program uses), one patch at a
// time, and their installer argv, exit-code classes, detect rules and stand-in files.

const WINDOWS_IDS = ['T5KB0217', 'T5KB0218', 'T5KB0219', 'T5KB0220'];
const MSP_PRODUCT = '{5C8F3A21-7D4B-4E6A-9B1C-2F0D8E7A6B19}';
const MSP_PATCH = '{A3E1C7B2-4F9D-4C28-8E5A-1B6D9F0C3E47}';
const INNO_SILENT = ['/VERYSILENT', '/SUPPRESSMSGBOXES', '/NORESTART', '/LOG={log}'];
/** msiexec, quiet, no restart of its own, its log at {log}, with Windows Installer's exit codes. */
const msiexec = (...args: string[]): object => ({
  command: ['msiexec', ...args, '/qn', '/norestart', '/l*v', '{log}'],
  timeoutSeconds: 3600,
  successExitCodes: [0],
  rebootExitCodes: [3010, 1641],
  retryExitCodes: [1618],
});

const feedDir = join(t.testdir(), 'feed');
const feed = (await generateSampleFeed({ outDir: feedDir })).feed as Feed;
const byId = new Map(feed.patches.map((patch) => [patch.id, patch]));
const patch = (id: string): FeedPatch => {
  const found = byId.get(id);
  if (!found) throw new Error(`the sample feed has no ${id}`);
  return found;
};
/** A copy of the feed with only this patch (JSON round trip: the copy can be damaged freely). */
const feedOf = (one: FeedPatch): Feed =>
  JSON.parse(JSON.stringify({ ...feed, patches: [{ ...one, requires: [] }] })) as Feed;

t.test('the win32-only patches are the Windows installers and T5KB0208', async (t) => {
  const win32 = feed.patches.filter((p) => p.platforms?.includes('win32')).map((p) => p.id);
  t.same(win32, ['T5KB0208', ...WINDOWS_IDS]);
  for (const id of WINDOWS_IDS) t.same(patch(id).platforms, ['win32'], `${id} is for win32 only`);
});

t.test('each Windows patch passes the feed schema on its own', async (t) => {
  for (const id of WINDOWS_IDS) {
    t.doesNotThrow(() => validateFeed(feedOf(patch(id)), id), `${id} is a valid feed patch`);
  }
});

t.test('the schema refuses them damaged, naming the field', async (t) => {
  const noBraces = feedOf(patch('T5KB0217'));
  const detect = noBraces.patches[0]!.detect as { msiPatch: { patchCode: string } };
  detect.msiPatch.patchCode = MSP_PATCH.slice(1, -1);
  t.throws(() => validateFeed(noBraces, 'T5KB0217'), {
    code: ErrorCodes.FEED_SCHEMA,
    message: /patchCode/,
  });

  const badVersion = feedOf(patch('T5KB0218'));
  (badVersion.patches[0]!.detect as { msiProduct: { version: string } }).msiProduct.version = '19.0.2210.0.1';
  t.throws(() => validateFeed(badVersion, 'T5KB0218'), { code: ErrorCodes.FEED_SCHEMA, message: /version/ });

  const hkcu = feedOf(patch('T5KB0220'));
  (hkcu.patches[0]!.detect as { registry: { key: string } }).registry.key = 'HKCU\\Software\\Arcserve';
  t.throws(() => validateFeed(hkcu, 'T5KB0220'), { code: ErrorCodes.FEED_SCHEMA, message: /key/ });
});

t.test('the .msp: msiexec /p to install, /package … /uninstall to take it back', async (t) => {
  const cu = patch('T5KB0217');
  t.equal(cu.files.map((f) => f.name).join(), 'T5KB0217.msp');
  t.same(cu.install, msiexec('/p', '{file:T5KB0217.msp}'));
  t.same(cu.uninstall, msiexec('/package', MSP_PRODUCT, '/uninstall', MSP_PATCH));
  t.same(cu.detect, { msiPatch: { patchCode: MSP_PATCH, productCode: MSP_PRODUCT } });
});

t.test('the .msi: msiexec /i, detected by product version, no uninstall', async (t) => {
  const agent = patch('T5KB0218');
  t.equal(agent.files.map((f) => f.name).join(), 'T5KB0218.msi');
  t.same(agent.install, msiexec('/i', '{file:T5KB0218.msi}'));
  t.equal(agent.uninstall, undefined, 'msiexec /x would remove the agent, not restore the old one');
  t.same(agent.detect, {
    msiProduct: { productCode: '{D2B64F8E-3A17-4C95-B0E2-7F1A5C9D8E36}', op: '>=', version: '19.0.2210.0' },
  });
});

t.test('the .exe: Inno Setup silent switches, detected by file version or registry', async (t) => {
  const tape = patch('T5KB0219');
  t.same(tape.requires, ['T5KB0217']);
  t.same(tape.install, {
    command: ['{file:T5KB0219.exe}', ...INNO_SILENT],
    timeoutSeconds: 1800,
    successExitCodes: [0],
  });
  t.same(tape.uninstall?.command, ['{installDir}\\Patches\\T5KB0219\\unins000.exe', ...INNO_SILENT]);
  t.same(tape.detect, {
    fileVersion: { path: '{installDir}\\tapeeng.exe', op: '>=', version: '19.0.2215.3' },
  });

  const agent = patch('T5KB0220');
  t.same(agent.install.command, ['{file:T5KB0220.exe}', ...INNO_SILENT]);
  t.equal(agent.uninstall, undefined);
  t.match(agent.detect, {
    registry: { key: /^HKLM\\SOFTWARE\\/, value: 'Version', view: '32', op: '>=', version: '19.0.2230.1' },
  });
});

t.test('the installer files are stand-ins that say so, of the declared size', async (t) => {
  for (const id of WINDOWS_IDS) {
    const [file] = patch(id).files;
    const bytes = await readFile(join(feedDir, file!.url));
    t.equal(bytes.length, file!.size, `${file!.name} size`);
    t.match(
      bytes.subarray(0, 120).toString('latin1'),
      `patchbay sample feed: stand-in bytes for ${file!.name}, not a Windows installer`,
    );
    t.not(bytes.subarray(0, 2).toString('latin1'), 'MZ', `${file!.name} is not a PE file`);
  }
});
