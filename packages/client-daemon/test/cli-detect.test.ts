// `patchbay-client detect`: the CLI as a real child process for ad-hoc rules (a file rule, a
// registry rule answered by the stand-in reg first on the child's PATH, a bad rule), and the
// command in this process over a cached catalog.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { detectCommand } from '../src/commands/detect.js';
import { checkCommand } from '../src/commands/check.js';
import { makeSandbox } from './fixtures/client.js';
import { installFakeReg } from './fixtures/fake-reg.js';
import { runInProcess } from './fixtures/in-process.js';
import { buildCatalog, startStaging } from './fixtures/staging.js';

const fake = installFakeReg(t.testdir());
// the child inherits it: the CLI must find reg on PATH as it would any program
process.env.PATH = `${fake.binDir}${path.delimiter}${process.env.PATH ?? ''}`;

t.test('detect --rule: a file rule and a registry rule, from the real CLI', async (t) => {
  const sb = makeSandbox(t.testdir(), () => ['http://127.0.0.1:9/']);
  writeFileSync(path.join(sb.installDir, 'ARCserve.exe'), '');
  const file = await sb.json(['detect', '--rule', '{"fileExists":"{installDir}/ARCserve.exe"}']);
  t.equal(file.code, 0, file.stderr);
  t.same(file.doc, [
    {
      rule: { fileExists: '{installDir}/ARCserve.exe' },
      installed: true,
      evidence: `${path.join(sb.installDir, 'ARCserve.exe')} exists`,
    },
  ]);

  const rule = {
    registry: { key: 'HKLM\\SOFTWARE\\Arcserve\\Backup', value: 'Version', op: '>=', version: '19.0.6787' },
  };
  const reg = await sb.run(['detect', '--rule', JSON.stringify(rule)]);
  t.equal(reg.code, 0, reg.stderr);
  t.match(
    reg.stdout,
    /registry\s+yes\s+HKLM\\SOFTWARE\\Arcserve\\Backup\\Version = 19\.0\.6787 \(REG_SZ, 64-bit view\), >= 19\.0\.6787/,
  );
  t.same(fake.calls(), ['query HKLM\\SOFTWARE\\Arcserve\\Backup /v Version /reg:64']);

  // in this process from here on: each start of the CLI costs most of a second of CPU
  const denied = await runInProcess(sb, detectCommand, {
    rule: '{"registry":{"key":"HKLM\\\\SOFTWARE\\\\Locked"}}',
  });
  t.equal(denied.code, 1, 'a rule that could not be evaluated fails the command');
  t.match(denied.doc, [
    { installed: false, failed: true, evidence: /HKLM\\SOFTWARE\\Locked.*Access is denied/ },
  ]);
  const unknown = await runInProcess(sb, detectCommand, { rule: '{"fileExists":"x"}', product: 'nope' });
  t.match(unknown.error, { code: 'PB_ERR_UNKNOWN_PRODUCT', message: /--product nope: not a product/ });
});

t.test('detect --rule: a bad rule is a usage error (exit 2) naming the field', async (t) => {
  const sb = makeSandbox(t.testdir(), () => ['http://127.0.0.1:9/']);
  const bad = await runInProcess(sb, detectCommand, {
    rule: '{"registry":{"key":"HKLM\\\\SOFTWARE\\\\X","view":"48"}}',
  });
  t.match(bad.error, {
    code: 'PB_ERR_USAGE',
    message: /^--rule: \/registry\/view must be one of "64", "32"/,
  });
  const both = await runInProcess(sb, detectCommand, {
    rule: '{"msiProduct":{"productCode":"{5D0B5B4F-8D3E-4C73-9C1A-2B6F0E7D1A90}","op":"="}}',
  });
  t.match(both.error, { code: 'PB_ERR_USAGE', message: /--rule: \/msiProduct/ });
  const notJson = await runInProcess(sb, detectCommand, { rule: '{registry' });
  t.match(notJson.error, { code: 'PB_ERR_USAGE', message: /--rule: not JSON/ });
});

t.test('detect --rule never runs a command: only signed metadata may (CONTRACT §5)', async (t) => {
  const dir = t.testdir();
  const sb = makeSandbox(dir, () => ['http://127.0.0.1:9/']);
  const pwned = path.join(dir, 'pwned');
  const attempt = await runInProcess(sb, detectCommand, {
    rule: JSON.stringify({ command: ['sh', '-c', `touch '${pwned}'`], installedExitCodes: [0] }),
  });
  t.match(attempt.error, { code: 'PB_ERR_USAGE', message: /^--rule: a command rule is not run/ });
  t.notOk(existsSync(pwned), 'nothing ran');
});

t.test("detect [ID...]: the cached catalog's rules for this host", async (t) => {
  const staging = await startStaging(
    buildCatalog([{ id: 'A' }, { id: 'B', noDetect: true }, { id: 'WIN', platforms: ['win32'] }]),
  );
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  t.equal((await runInProcess(sb, checkCommand)).code, 0, 'the catalog is cached');
  mkdirSync(path.join(sb.installDir, 'patches'));
  writeFileSync(path.join(sb.installDir, 'patches', 'A.installed'), '');

  const all = await runInProcess(sb, detectCommand);
  t.equal(all.code, 0, all.error?.message);
  t.match(all.doc, [
    {
      patchId: 'A',
      rule: { fileExists: '{installDir}/patches/A.installed' },
      installed: true,
      evidence: /A\.installed exists$/,
    },
    { patchId: 'B', rule: null, installed: null, evidence: 'no detect rule: the ledger decides' },
  ]);
  t.equal((all.doc as unknown as unknown[]).length, 2, 'not the win32-only patch');

  const one = await runInProcess(sb, detectCommand, ['B']);
  t.match(one.doc, [{ patchId: 'B' }]);
  t.equal((one.doc as unknown as unknown[]).length, 1);
  const other = await runInProcess(sb, detectCommand, ['WIN']);
  t.match(other.error, { code: 'PB_ERR_UNKNOWN_PATCH', message: /WIN is for win32 only/ });
});
