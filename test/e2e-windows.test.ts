// The Windows mode of the end-to-end suite: on a Windows runner, deploy/windows/check-patchbay.ps1
// runs against a client this test sets up (a real staging server over loopback) and every check
// must PASS or SKIP with its reason. Elsewhere that part skips, saying it needs a Windows runner,
// and what Linux can check is checked: the script's shape, and that docs/windows.md's "Checking a
// Windows host" names exactly the checks the script runs.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, REPO_ROOT, run } from './helpers/processes.js';
import { startStack } from './helpers/stack.js';

const SCRIPT = path.join(REPO_ROOT, 'deploy', 'windows', 'check-patchbay.ps1');
const DOCS = path.join(REPO_ROOT, 'docs', 'windows.md');
/** Checks nothing on a Windows host can excuse: they SKIP only when told to, or never. */
const MUST_PASS = [
  'node-version',
  'client-doctor',
  'file-version',
  'registry',
  'data-dir-acl',
  'process-tree-kill',
  'client-timeout-kill',
];

interface CheckResult {
  check: string;
  status: 'PASS' | 'FAIL' | 'SKIP';
  reason: string;
}

const script = fs.readFileSync(SCRIPT, 'utf8');

/** The checks the script runs, in order: each `Invoke-Check 'name' {`. */
function scriptChecks(): string[] {
  return [...script.matchAll(/^Invoke-Check '([a-z0-9-]+)' \{/gm)].map((m) => m[1]!);
}

/** The checks the docs' table names: first-column `name` of the "Checking a Windows host" section. */
function documentedChecks(): string[] {
  const docs = fs.readFileSync(DOCS, 'utf8');
  const start = docs.indexOf('\n## Checking a Windows host\n');
  if (start < 0) throw new Error('docs/windows.md has no "## Checking a Windows host" section');
  const end = docs.indexOf('\n## ', start + 1);
  const section = docs.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^\| `([a-z0-9-]+)` +\|/gm)].map((m) => m[1]!);
}

t.test('the check script: strict, -Json, the client paths as parameters, loopback only', async (t) => {
  t.match(script, /^Set-StrictMode -Version Latest$/m);
  t.match(script, /^\$ErrorActionPreference = 'Stop'$/m);
  const params = /^param\(([\s\S]*?)^\)$/m.exec(script)?.[1] ?? '';
  for (const param of [
    '[switch]$Json',
    '[string]$Node',
    '[string]$ClientScript',
    '[string]$Config',
    '[string]$DataDir',
    '[string]$ClientAccountSid',
  ])
    t.ok(params.includes(param), `param ${param}`);
  t.match(script, /exit 1/, 'exits 1 when a check fails');
  const addresses = [...script.matchAll(/\b(?:\d{1,3}\.){3}\d{1,3}\b/g)].map((m) => m[0]);
  t.same([...new Set(addresses)], ['127.0.0.1'], 'the only address it names is loopback');
  // Windows PowerShell 5.1 reads a script without a BOM in the ANSI code page
  t.ok(
    Buffer.from(script, 'utf8').every((byte) => byte < 0x80),
    'ASCII only',
  );
});

t.test('docs/windows.md names exactly the checks the script runs', async (t) => {
  const checks = scriptChecks();
  t.ok(checks.length >= 10, `${checks.length} checks`);
  t.equal(new Set(checks).size, checks.length, 'each check once');
  t.same(documentedChecks(), checks, 'the docs table lists them, in the script’s order');
  const described = /^\s*Checks: ([\s\S]*?)\.\s*$/m.exec(script)?.[1]?.split(/,\s*/) ?? [];
  t.same(described, checks, 'and so does the script’s own help');
  for (const name of MUST_PASS) t.ok(checks.includes(name), `${name} is a check`);
});

async function runCheckScript(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    'powershell.exe',
    ['-NoProfile', '-ExecutionPolicy', 'Bypass', '-File', SCRIPT, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill(), 300_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const WINDOWS_ONLY =
  process.platform === 'win32'
    ? false
    : 'needs a Windows runner: on Windows, `npx tap test/e2e-windows.test.ts` as Administrator ' +
      '(PATCHBAY_E2E_WINDOWS_SERVICE=1 to check an installed patchbay-client service too)';

t.test('on Windows: every check PASSes or SKIPs with its reason', { skip: WINDOWS_ONLY }, async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir, { releases: ['19.0'] });
  t.teardown(stack.stop);
  const client = stack.writeClientConfig('host-windows', '19.0');
  // a first check makes the data directory as the client makes it (and restricts it)
  const check = await run(BIN.client, ['--config', client.config, 'check']);
  t.equal(check.code, 0, check.stderr);
  const withService = process.env.PATCHBAY_E2E_WINDOWS_SERVICE === '1';
  // the client ran as this user, and the data directory it made grants this user too
  const ownSid = execFileSync('whoami', ['/user', '/fo', 'csv', '/nh'], { encoding: 'latin1' })
    .trim()
    .replace(/^"|"$/g, '')
    .split('","')[1];
  const result = await runCheckScript([
    '-Node',
    process.execPath,
    '-ClientScript',
    BIN.client,
    '-Config',
    client.config,
    '-DataDir',
    client.dataDir,
    '-ClientAccountSid',
    ownSid ?? '',
    '-Json',
    ...(withService ? [] : ['-SkipService']),
  ]);
  const checks = JSON.parse(result.stdout) as CheckResult[];
  t.same(
    checks.map((c) => c.check),
    scriptChecks(),
    'one result per check',
  );
  for (const c of checks) {
    t.ok(
      c.status === 'PASS' || (c.status === 'SKIP' && c.reason.length > 0),
      `${c.check}: ${c.status} ${c.reason}`,
    );
    if (MUST_PASS.includes(c.check)) t.equal(c.status, 'PASS', `${c.check} cannot be skipped here`);
  }
  t.equal(result.code, 0, result.stderr);
});
