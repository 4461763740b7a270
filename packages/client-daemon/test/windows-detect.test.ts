// The registry, msiProduct and msiPatch detect rules on Linux: real child processes of a stand-in
// `reg` (fixtures/fake-reg.ts) that answers from hand-written reg.exe output
// (fixtures/reg-query/README.md) and records its argv.
import t from 'tap';
import type { Test } from 'tap';
import type {
  ClientConfig,
  ContentStore,
  DetectRule,
  FeedPatch,
  Logger,
  PlaceholderContext,
} from '@patchbay/core';
import { evaluateDetectRule } from '../src/detect-rule.js';
import { detectInstalled, takeInventory } from '../src/inventory.js';
import type { Ledger } from '../src/ledger.js';
import { packGuid, unpackGuid } from '../src/windows/msi-lookup.js';
import { bounded, createRegQuery, parseRegQueryOutput, regExecutable } from '../src/windows/reg-query.js';
import { installFakeReg } from './fixtures/fake-reg.js';

const P1 = '{5D0B5B4F-8D3E-4C73-9C1A-2B6F0E7D1A90}';
const P2 = '{0E1B7C2A-4F3D-4E8B-A6C9-1D2E3F405162}';
const PATCH_APPLIED = '{9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D}';
const PATCH_SUPERSEDED_ON_P1 = '{C3D4E5F6-A7B8-4C9D-8E0F-112233445566}';
const PATCH_NOWHERE = '{D1E2F3A4-B5C6-4D7E-9F80-AABBCCDDEEFF}';
const KEY = 'HKLM\\SOFTWARE\\Arcserve\\Backup';
const PRODUCTS =
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products';

const ctx: PlaceholderContext = {
  files: {},
  installDir: '/nowhere',
  release: '19.0',
  patchId: 'T',
  dataDir: '/nowhere',
};

const fake = installFakeReg(t.testdir());
const reg = createRegQuery({ env: { PATH: `${fake.binDir}:${process.env.PATH ?? ''}` } });
const evaluate = (rule: DetectRule) => evaluateDetectRule(rule, ctx, { regQuery: reg });
/** The arguments reg got for the calls `fn` made. */
async function argvOf(fn: () => Promise<unknown>): Promise<string[]> {
  const before = fake.calls().length;
  await fn();
  return fake.calls().slice(before);
}

t.test('packed GUIDs: the transform Windows Installer names its keys with', async (t) => {
  // a pair read off a Windows registry, published (pcreview.co.uk, "Inside the registry: the Installer key")
  t.equal(packGuid('{1D643CD4-4DD6-11D7-A4E0-000874180BB3}'), '4DC346D16DD47D114A0E00804781B03B');
  t.equal(packGuid('{1d643cd4-4dd6-11d7-a4e0-000874180bb3}'), '4DC346D16DD47D114A0E00804781B03B', 'any case');
  t.equal(unpackGuid('4DC346D16DD47D114A0E00804781B03B'), '{1D643CD4-4DD6-11D7-A4E0-000874180BB3}');
  t.equal(packGuid(P1), 'F4B5B0D5E3D837C4C9A1B2F6E0D7A109');
  t.throws(() => packGuid('1D643CD4-4DD6-11D7-A4E0-000874180BB3'), { code: 'PB_ERR_FEED_SCHEMA' });
  t.throws(() => unpackGuid('Not-a-product'));
});

t.test('reg.exe output is parsed as it prints it, and nothing else', async (t) => {
  const parsed = parseRegQueryOutput(
    '\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\X\r\n    A name    REG_SZ    a  b\r\n    E    REG_SZ    \r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\X\\Sub\r\n',
  );
  t.same(parsed, {
    key: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\X',
    values: [
      { name: 'A name', type: 'REG_SZ', data: 'a  b' },
      { name: 'E', type: 'REG_SZ', data: '' },
    ],
    subkeys: ['HKEY_LOCAL_MACHINE\\SOFTWARE\\X\\Sub'],
  });
  t.throws(() => parseRegQueryOutput('\r\n'), /no key line/);
  t.throws(() => parseRegQueryOutput('hello\r\n'), /unexpected line/);
  t.equal(regExecutable('win32', { SystemRoot: 'D:\\Windows' }), 'D:\\Windows\\System32\\reg.exe');
  t.equal(regExecutable('win32', {}), 'C:\\Windows\\System32\\reg.exe');
  t.equal(regExecutable('linux', { SystemRoot: 'D:\\Windows' }), 'reg', "elsewhere: PATH's reg, if any");
});

t.test('registry: key and value present, in the view asked for, names in any case', async (t) => {
  t.same(await argvOf(() => evaluate({ registry: { key: KEY } })), [`query ${KEY} /reg:64`]);
  t.match(await evaluate({ registry: { key: KEY } }), { installed: true, evidence: /key exists/ });
  t.match(await evaluate({ registry: { key: 'HKLM\\SOFTWARE\\Absent' } }), {
    installed: false,
    evidence: /key not found/,
    failed: undefined,
  });
  t.same(await argvOf(() => evaluate({ registry: { key: KEY, value: 'Version' } })), [
    `query ${KEY} /v Version /reg:64`,
  ]);
  t.match(await evaluate({ registry: { key: KEY, value: 'version' } }), {
    installed: true,
    evidence: `${KEY}\\version = 19.0.6787 (REG_SZ, 64-bit view)`,
  });
  t.match(await evaluate({ registry: { key: KEY, value: 'Missing' } }), {
    installed: false,
    evidence: /value Missing not found/,
  });
  t.same(await argvOf(() => evaluate({ registry: { key: KEY, value: '' } })), [`query ${KEY} /ve /reg:64`]);
  t.match(await evaluate({ registry: { key: KEY, value: '', equals: 'Arcserve Backup' } }), {
    installed: true,
  });
  t.match(await evaluate({ registry: { key: 'HKLM\\SOFTWARE\\Arcserve\\NoDefault', value: '' } }), {
    installed: false,
    evidence: /value \(Default\) not found/,
  });
  const v32 = { registry: { key: KEY, value: 'Version', view: '32', equals: '18.0.1234' } } as const;
  t.same(await argvOf(() => evaluate(v32)), [`query ${KEY} /v Version /reg:32`]);
  t.match(await evaluate(v32), { installed: true, evidence: /= 18\.0\.1234 \(REG_SZ, 32-bit view\)/ });
  t.match(await evaluate({ registry: { key: KEY, value: 'Version', equals: '18.0.1234' } }), {
    installed: false,
    evidence: /not "18\.0\.1234"/,
  });
});

/** Cases evaluated at once (reg's own bound keeps it to a few processes), checked in order. */
async function table<C extends unknown[]>(
  t: Test,
  cases: [...C, boolean, string][],
  rule: (...args: C) => DetectRule,
): Promise<void> {
  const results = await Promise.all(cases.map((c) => evaluate(rule(...(c.slice(0, -2) as C)))));
  cases.forEach((c, i) => t.equal(results[i]!.installed, c.at(-2), `${c.at(-1)}: ${results[i]!.evidence}`));
}

t.test('registry equals: text exact, DWORD and QWORD in decimal, MULTI_SZ any one string', async (t) => {
  await table<[string, string]>(
    t,
    [
      ['Version', '19.0.6787', true, 'REG_SZ'],
      ['Version', '19.0.6787 ', false, 'exact: no trimming'],
      ['Version', '19.0.6787.0', false, 'text, not a version'],
      ['Build', '6787', true, 'REG_DWORD 0x1a83 in decimal'],
      ['Build', '0x1a83', false, 'not as reg prints it'],
      ['Size', '4294967296', true, 'REG_QWORD beyond 32 bits'],
      ['Features', 'Tape Engine', true, 'one string of a REG_MULTI_SZ'],
      ['Features', 'Agent\\0Manager\\0Tape Engine', false, 'not the joined text'],
      ['InstallPath', '%ProgramFiles%\\Arcserve\\Backup', true, 'REG_EXPAND_SZ unexpanded'],
      ['Empty', '', true, 'an empty REG_SZ'],
      ['Token', '0A0B0C', true, 'REG_BINARY as reg prints it'],
    ],
    (value, equals) => ({ registry: { key: KEY, value, equals } }),
  );
});

t.test('registry version compare: at the boundaries, and data that is no version', async (t) => {
  await table<[string, '>=' | '=' | '<', string]>(
    t,
    [
      ['Version', '=', '19.0.6787', true, 'equal'],
      ['Version', '=', '19.0.6787.0', true, 'missing parts count as 0'],
      ['Version', '>=', '19.0.6787', true, 'at'],
      ['Version', '>=', '19.0.6788', false, 'one below'],
      ['Version', '<', '19.0.6788', true, 'below'],
      ['Version', '<', '19.0.6787', false, 'not below itself'],
      ['Version', '>=', '19.1', false, 'a minor above'],
      ['Version', '>=', '9.9', true, 'numeric, not textual'],
      ['Build', '=', '6787', true, 'a DWORD read as its decimal'],
    ],
    (value, op, version) => ({ registry: { key: KEY, value, op, version } }),
  );
  t.match(await evaluate({ registry: { key: KEY, value: 'InstallPath', op: '<', version: '99' } }), {
    installed: false,
    evidence: /not a dotted version/,
  });
  t.match(await evaluate({ registry: { key: KEY, value: 'Features', op: '<', version: '99' } }), {
    installed: false,
    evidence: /not a dotted version/,
  });
});

t.test('registry failures: not installed, with a reason naming the key', async (t) => {
  const denied = await evaluate({ registry: { key: 'HKLM\\SOFTWARE\\Locked', value: 'Version' } });
  t.match(denied, {
    installed: false,
    failed: true,
    evidence:
      /HKLM\\SOFTWARE\\Locked value "Version" \(\/reg:64\): reg\.exe exited 5: ERROR: Access is denied\./,
    problem: { fields: { key: 'HKLM\\SOFTWARE\\Locked', exitCode: 5, reason: /Access is denied/ } },
  });
  t.match(await evaluate({ registry: { key: 'HKLM\\SOFTWARE\\Garbage' } }), {
    installed: false,
    failed: true,
    evidence:
      /HKLM\\SOFTWARE\\Garbage \(\/reg:64\): unreadable output: unexpected line: "this is not what reg.exe prints"/,
  });
  const impatient = createRegQuery({ env: { PATH: fake.binDir }, timeoutMs: 300 });
  t.match(
    await evaluateDetectRule({ registry: { key: 'HKLM\\SOFTWARE\\Hung' } }, ctx, { regQuery: impatient }),
    {
      installed: false,
      failed: true,
      evidence: /HKLM\\SOFTWARE\\Hung \(\/reg:64\): reg\.exe timed out or was killed \(SIGTERM\)/,
    },
  );
  t.match(await evaluate({ registry: { key: 'HKLM\\SOFTWARE\\Bad Syntax' } }), {
    failed: true,
    evidence: /exited 1: ERROR: Invalid syntax\./,
  });
});

t.test('msiProduct: installed for the machine, its version compared', async (t) => {
  const installProps = `query ${PRODUCTS}\\F4B5B0D5E3D837C4C9A1B2F6E0D7A109\\InstallProperties /reg:64`;
  t.same(await argvOf(() => evaluate({ msiProduct: { productCode: P1 } })), [installProps]);
  t.match(await evaluate({ msiProduct: { productCode: P1 } }), {
    installed: true,
    evidence: `MSI product ${P1} installed, version 19.0.6787 (DisplayVersion)`,
  });
  t.match(await evaluate({ msiProduct: { productCode: P1.toLowerCase() } }), { installed: true }, 'any case');
  t.match(await evaluate({ msiProduct: { productCode: PATCH_NOWHERE } }), {
    installed: false,
    evidence: /not installed for the machine/,
  });
  const version = async (code: string, op: '>=' | '=' | '<', v: string): Promise<boolean> =>
    (await evaluate({ msiProduct: { productCode: code, op, version: v } })).installed;
  t.equal(await version(P1, '>=', '19.0.6787'), true);
  t.equal(await version(P1, '>=', '19.0.6788'), false);
  t.equal(await version(P1, '<', '19.0.6788'), true);
  t.equal(await version(P1, '=', '19.0'), false);
  t.equal(await version(P2, '=', '19.0.6787'), true, 'no DisplayVersion: the Version DWORD 0x13001a83');
  t.match(await evaluate({ msiProduct: { productCode: P2, op: '=', version: '19.0.6787' } }), {
    evidence: /installed, version 19\.0\.6787 \(Version 0x13001a83\), = 19\.0\.6787$/,
  });
  t.equal(await version(PATCH_NOWHERE, '<', '99'), false, 'absent is not installed, even for <');
});

t.test('msiPatch: applied (State 1) to a product, or to any', async (t) => {
  const patchKey = `query ${PRODUCTS}\\F4B5B0D5E3D837C4C9A1B2F6E0D7A109\\Patches\\D6C7B8A9F4E5B3A4C8D2E1F0A9B8C7D6 /v State /reg:64`;
  t.same(await argvOf(() => evaluate({ msiPatch: { patchCode: PATCH_APPLIED, productCode: P1 } })), [
    patchKey,
  ]);
  t.match(await evaluate({ msiPatch: { patchCode: PATCH_APPLIED, productCode: P1 } }), {
    installed: true,
    evidence: `MSI patch ${PATCH_APPLIED}: applied for ${P1}`,
  });
  t.match(await evaluate({ msiPatch: { patchCode: PATCH_SUPERSEDED_ON_P1, productCode: P1 } }), {
    installed: false,
    evidence: /superseded for/,
  });
  t.match(await evaluate({ msiPatch: { patchCode: PATCH_APPLIED, productCode: P2 } }), {
    installed: false,
    evidence: /not registered for/,
  });
  const any = await argvOf(() => evaluate({ msiPatch: { patchCode: PATCH_SUPERSEDED_ON_P1 } }));
  t.equal(any[0], `query ${PRODUCTS} /reg:64`, 'the list of products first');
  t.equal(any.length, 3, 'then one query per product (the key that is no packed GUID skipped)');
  t.match(await evaluate({ msiPatch: { patchCode: PATCH_SUPERSEDED_ON_P1 } }), {
    installed: true,
    evidence: `MSI patch ${PATCH_SUPERSEDED_ON_P1}: superseded for ${P1}, applied for ${P2}`,
  });
  t.match(await evaluate({ msiPatch: { patchCode: PATCH_NOWHERE } }), {
    installed: false,
    evidence: /not registered for any of 2 product\(s\)/,
  });
});

t.test('a host without reg: Windows rules are not installed, one warning per patch', async (t) => {
  const noReg = createRegQuery({ platform: 'linux', env: { PATH: t.testdir() } });
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = {
    warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }),
  } as unknown as Logger;
  const config = {
    dataDir: '/nowhere',
    products: [{ id: 'p', release: '19.0', installDir: '/x' }],
  } as ClientConfig;
  const store = { blobPath: () => '' } as unknown as ContentStore;
  const patch = (id: string, detect: DetectRule): FeedPatch =>
    ({ id, product: 'p', release: '19.0', files: [], detect }) as unknown as FeedPatch;
  const deps = { config, store, logger, regQuery: noReg };
  t.equal(await detectInstalled(patch('W1', { registry: { key: KEY, value: 'Version' } }), deps), false);
  t.equal(await detectInstalled(patch('W2', { msiProduct: { productCode: P1 } }), deps), false);
  t.equal(await detectInstalled(patch('W3', { msiPatch: { patchCode: PATCH_APPLIED } }), deps), false);
  t.equal(
    await detectInstalled(patch('W4', { registry: { key: KEY, value: 'Version' } }), {
      ...deps,
      regQuery: reg,
    }),
    true,
    'the same rule where reg answers',
  );
  t.equal(warnings.length, 3);
  t.match(warnings[0], {
    fields: { patchId: 'W1', key: KEY, reason: /no reg\.exe on this host \(linux\)/ },
    message: /treating as not installed/,
  });
  t.match(warnings[1], { fields: { patchId: 'W2', productCode: P1, reason: /no reg\.exe/ } });
  t.match(warnings[2], { fields: { patchId: 'W3', patchCode: PATCH_APPLIED, reason: /no reg\.exe/ } });
});

t.test('at most a few reg processes at once', async (t) => {
  let running = 0;
  let most = 0;
  const releases: (() => void)[] = [];
  const limited = bounded(4, async () => {
    most = Math.max(most, ++running);
    await new Promise<void>((resolve) => releases.push(resolve));
    running--;
  });
  const all = Promise.all(Array.from({ length: 10 }, () => limited(undefined)));
  // release one at a time as each becomes waiting: an observable condition, not a timer
  while (releases.length > 0 || running > 0) {
    await new Promise((resolve) => setImmediate(resolve));
    releases.shift()?.();
  }
  await all;
  t.equal(most, 4);
});

t.test('one inventory asks reg.exe once per query, whatever number of patches read it', async (t) => {
  const config = {
    dataDir: '/nowhere',
    products: [{ id: 'p', release: '19.0', installDir: '/x' }],
  } as ClientConfig;
  const store = { blobPath: () => '', has: async () => false } as unknown as ContentStore;
  const patch = (id: string, version: string): FeedPatch =>
    ({
      id,
      product: 'p',
      release: '19.0',
      files: [],
      detect: { registry: { key: KEY, value: 'Version', op: '>=', version } },
    }) as unknown as FeedPatch;
  const deps = {
    config,
    store,
    logger: { warn: () => undefined } as unknown as Logger,
    ledger: { patches: {} } as unknown as Ledger,
    regQuery: reg,
  };
  const asked = await argvOf(async () => {
    const known = await takeInventory(
      [patch('W1', '18.0'), patch('W2', '19.1'), patch('W3', '19.0.6787')],
      deps,
    );
    t.same([...known.installed].sort(), ['W1', 'W3'], 'each compared with its own threshold');
  });
  t.same(asked, [`query ${KEY} /v Version /reg:64`], 'one reg.exe for the three');
});
