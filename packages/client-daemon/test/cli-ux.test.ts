// patchbay-client's command-line behaviour at its edges (issue 14, "Hardening"): an unusable data
// directory fails at once, offline is said and exits non-zero, a closed pipe ends quietly and
// releases the lock, hints name the right thing, and `run --once` says what it did.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ErrorCodes, PatchbayError, nextStep } from '@patchbay/core';
import { BIN, makeSandbox, runCli } from './fixtures/client.js';
import { buildCatalog, closedPortUrl, startStaging } from './fixtures/staging.js';

const built = buildCatalog([
  { id: 'A' },
  { id: 'B', requires: ['A'] },
  { id: 'C', severity: 'critical' },
  { id: 'OLD', release: '18.0' },
  { id: 'WIN', platforms: ['win32'] },
  { id: 'FIRST' },
]);
// feed extension: this patch lays down the product itself, so its installDir may be missing
Object.assign(built.catalog.patches.find((p) => p.id === 'FIRST')!.install, { createsInstallDir: true });
const staging = await startStaging(built);
t.teardown(() => staging.close());
const root = t.testdir();

/** Well below the hang it guards against (a recursive mkdir under /proc spins for good). */
const FAST_MS = 15_000;
const procUsable = existsSync('/proc/self') && statSync('/proc').isDirectory();

t.test(
  'check --data-dir under /proc fails at once (exit 2) naming dataDir',
  { skip: procUsable ? false : 'no /proc on this system' },
  async (t) => {
    const sb = makeSandbox(path.join(root, 'proc'), () => [staging.url]);
    const started = Date.now();
    const r = await runCli(['--config', sb.configPath, '--data-dir', '/proc/patchbay-x', 'check'], {
      timeoutMs: FAST_MS,
    });
    t.ok(Date.now() - started < FAST_MS, 'exits by itself, does not spin');
    t.equal(r.code, 2, r.stderr);
    t.match(
      r.stderr,
      /^patchbay-client: dataDir \/proc\/patchbay-x is not usable: cannot create \/proc\/patchbay-x/m,
    );
    t.match(r.stderr, /hint: .*--data-dir/);
  },
);

t.test('a data directory under a file (ENOTDIR) says which part is a file', async (t) => {
  const sb = makeSandbox(path.join(root, 'notdir'), () => [staging.url]);
  const r = await runCli(
    ['--config', sb.configPath, '--data-dir', path.join(sb.configPath, 'data'), 'status'],
    {
      timeoutMs: FAST_MS,
    },
  );
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /client\.json is a file, not a directory/);
  t.notMatch(r.stderr, /unexpected/);
});

/** The CLI with a stdout whose reader is gone before anything is written (`… | head -0`). */
function runWithClosedStdout(
  args: string[],
  closeStderr = false,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    if (closeStderr) child.stderr.destroy();
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

t.test('a closed stdout (| head): no EPIPE stack trace, the lock is released', async (t) => {
  const sb = makeSandbox(path.join(root, 'epipe'), () => [staging.url]);
  const check = await runWithClosedStdout(['--config', sb.configPath, 'check']);
  t.equal(check.code, 0, check.stderr);
  t.equal(check.stderr, '', 'nothing on stderr');
  t.notOk(existsSync(path.join(sb.dataDir, 'lock')), 'check released the data-dir lock');
  const history = await runWithClosedStdout(['--config', sb.configPath, 'history']);
  t.equal(history.code, 0, history.stderr);
  t.notMatch(history.stderr, /EPIPE|\n\s+at /, 'no stack trace');
  t.equal(history.stderr, '');
  const again = await sb.run(['check']);
  t.equal(again.code, 0, `the next check runs: ${again.stderr}`);
  // `check 2>&1 | head`: stderr gone too, and something to say there (offline, from the cache)
  const dead = await closedPortUrl();
  const both = await runWithClosedStdout(['--config', sb.configPath, '--server', dead, 'check'], true);
  t.equal(both.code, 1, 'the offline exit, not a crash');
  t.notOk(existsSync(path.join(sb.dataDir, 'lock')), 'the lock is released');
});

t.test('run --once prints what its cycle did (human and --json)', async (t) => {
  const sb = makeSandbox(path.join(root, 'once'), () => [staging.url], {
    policy: { autoInstall: 'critical' },
  });
  const human = await sb.run(['run', '--once']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^SEQ +TYPE +PATCH +OUTCOME +MESSAGE$/m);
  t.match(human.stdout, /^ +\d+ +check +- +ok +catalog \d+: \d+ applicable patch/m, 'the check');
  t.match(human.stdout, /^ +\d+ +install +C +ok\b/m, `the critical patch it installed: ${human.stdout}`);
  t.match(human.stdout, /^run --once: \d+ event\(s\), 0 failed$/m);
  t.ok(sb.marker('C'));
  const json = await sb.json<{ ok: boolean; events: { type: string; patchId?: string }[] }>([
    'run',
    '--once',
  ]);
  t.equal(json.code, 0, json.stderr);
  t.equal(json.doc.ok, true);
  t.same(
    json.doc.events.map((e) => e.type),
    ['check'],
    'the second cycle only checked: nothing left to install',
  );
});

t.test('hints: a --server or server ending in /v1 is refused naming the base URL', async (t) => {
  const sb = makeSandbox(path.join(root, 'v1'), () => [staging.url]);
  const asked = staging.requests.length;
  const flag = await sb.run(['--server', `${staging.url}/v1/`, 'check']);
  t.equal(flag.code, 2, flag.stderr);
  t.match(flag.stderr, `--server ${staging.url}/v1/: name the staging server by its base URL, without /v1`);
  t.match(flag.stderr, `${staging.url}/\n`, 'says the URL to use');
  t.notMatch(flag.stderr, /v1\/v1|run "patchbay-client check"/);
  sb.writeConfig({ server: [`${staging.url}/v1`] });
  const config = await sb.run(['check']);
  t.equal(config.code, 2, config.stderr);
  t.match(config.stderr, `server[0] ${staging.url}/v1: name the staging server by its base URL`);
  t.equal(staging.requests.length, asked, 'nothing was asked of the server');
});

t.test('hints: a 404 to check or doctor points at "server", not at running check again', async (t) => {
  const notFound = new PatchbayError(ErrorCodes.HTTP_STATUS, 'GET …/v1/catalog answered 404', {
    status: 404,
  });
  const ctx = { program: 'patchbay-client', configFile: 'client.json' } as const;
  for (const command of ['check', 'doctor']) {
    const hint = nextStep(notFound, { ...ctx, command });
    t.notMatch(hint, /run "patchbay-client check"/, command);
    t.match(hint, /"server" in client\.json \(or --server\) is the staging server's base URL/, command);
  }
  t.match(
    nextStep(notFound, { ...ctx, command: 'install' }),
    /run "patchbay-client check"/,
    'install: check first',
  );
});

t.test('hints: a missing tokenFile names the config file to fix, not the token file', async (t) => {
  const tokenFile = path.join(root, 'nope.token');
  const sb = makeSandbox(path.join(root, 'token'), () => [staging.url], { tokenFile });
  const r = await sb.run(['check']);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, `tokenFile: cannot read ${tokenFile}`);
  t.match(r.stderr, `hint: fix "tokenFile" in ${sb.configPath}`);
});

t.test(
  'install of a patch for another release or platform: says which, exit 2, no failed event',
  async (t) => {
    // this host's metadata holds only its own releases' targets: OLD (18.0) is an unknown id
    const sb = makeSandbox(path.join(root, 'other-release'), () => [staging.url]);
    t.equal((await sb.run(['check'])).code, 0);
    const v2 = await sb.run(['install', 'OLD']);
    t.equal(v2.code, 2, v2.stderr);
    t.match(v2.stderr, /unknown patch id: OLD \(not in this host's catalog: arcserve-backup 19\.0\)/);
    const win = await sb.run(['download', 'WIN']);
    t.equal(win.code, 2, win.stderr);
    t.match(win.stderr, `WIN is for win32 only, not this host's platform (${process.platform})`);
    t.same(
      sb.ledger().events.filter((e) => e.type !== 'check'),
      [],
      'no failed install or download is recorded',
    );
  },
);

t.test(
  'a missing installDir (a typo): check warns, install refuses unless the patch creates it',
  async (t) => {
    const sb = makeSandbox(path.join(root, 'typo'), () => [staging.url]);
    const typo = path.join(sb.dir, 'instal');
    sb.writeConfig({ products: [{ id: 'arcserve-backup', release: '19.0', installDir: typo }] });
    const check = await sb.run(['check']);
    t.equal(check.code, 0, check.stderr);
    t.match(
      check.stderr,
      `warning: products[0].installDir ${typo} does not exist (a typo?): its patches all look not installed`,
    );
    const install = await sb.run(['install', 'A']);
    t.equal(install.code, 2, install.stderr);
    t.match(install.stderr, `products[0].installDir ${typo} does not exist: refusing to install A into it`);
    t.match(install.stderr, `hint: fix "products[0].installDir" in ${sb.configPath}`);
    t.notOk(existsSync(typo), 'no directory was created');
    t.same(
      sb.ledger().events.filter((e) => e.type === 'install'),
      [],
      'nothing recorded as installed or failed',
    );
    const first = await sb.run(['install', 'FIRST']);
    t.equal(first.code, 0, `a patch that says it creates the directory installs: ${first.stderr}`);
    t.ok(existsSync(path.join(typo, 'patches', 'FIRST.installed')));
  },
);
