import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Feed, FeedPatch } from '@patchbay/core';
import { generateSampleFeed } from '../src/sample-feed.js';

// The payloads are run the way an installer runs them: argv from the feed, placeholders
// expanded by hand here (core's expandCommand is tested in core), no shell around `sh`.

interface Sandbox {
  feedDir: string;
  installDir: string;
  patches: Map<string, FeedPatch>;
}

// One generated feed for the whole file: the payloads never write to it.
const feedDir = join(t.testdir(), 'feed');
const feed = (await generateSampleFeed({ outDir: feedDir })).feed as Feed;
const patches = new Map(feed.patches.map((patch) => [patch.id, patch]));

/** A fresh, empty product install directory per test. */
function sandbox(root: string): Sandbox {
  return { feedDir, installDir: join(root, 'opt', 'arcserve'), patches };
}

function expand(
  argv: readonly string[],
  box: Sandbox,
  patch: FeedPatch,
  installDir = box.installDir,
): string[] {
  return argv.map((arg) =>
    arg
      .replace(/\{file:([^}]+)\}/g, (_, name: string) => join(box.feedDir, 'files', name))
      .replace('{installDir}', installDir)
      .replace('{patchId}', patch.id)
      .replace('{release}', patch.release),
  );
}

function run(argv: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const [command, ...args] = argv;
  const result = spawnSync(command!, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function action(box: Sandbox, id: string, which: 'install' | 'uninstall', installDir?: string) {
  const patch = box.patches.get(id)!;
  const spec = patch[which];
  if (!spec) throw new Error(`${id} has no ${which}`);
  return run(expand(spec.command, box, patch, installDir));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Evaluate a patch's detect rule the way the client does. */
async function detected(box: Sandbox, id: string): Promise<boolean> {
  const patch = box.patches.get(id)!;
  const rule = patch.detect;
  if (!rule) throw new Error(`${id} has no detect rule`);
  if ('fileExists' in rule) return exists(expand([rule.fileExists], box, patch)[0]!);
  if ('fileSha256' in rule) {
    const path = expand([rule.fileSha256.path], box, patch)[0]!;
    const bytes = await readFile(path).catch(() => undefined);
    return bytes !== undefined && createHash('sha256').update(bytes).digest('hex') === rule.fileSha256.sha256;
  }
  return (rule.installedExitCodes ?? [0]).includes(run(expand(rule.command, box, patch)).status ?? -1);
}

t.test('the 19.0 chain installs in order, is detected, and uninstalls without a trace', async (t) => {
  const box = sandbox(t.testdir());
  const chain = ['T5KB0201', 'T5KB0202', 'T5KB0203', 'T5KB0204'];
  for (const id of chain) {
    t.notOk(await detected(box, id), `${id} not detected before install`);
    const result = action(box, id, 'install');
    t.equal(result.status, 0, `${id} install exits 0: ${result.stderr}`);
    t.match(result.stdout, `${id}: installed`);
    t.ok(await detected(box, id), `${id} detected after install`);
    t.ok(await exists(join(box.installDir, 'patches', `${id}.installed`)), `${id} marker`);
  }
  const driver = await readFile(join(box.installDir, 'bin', 'tapeeng-19.0.2.bin'));
  t.ok(driver.equals(await readFile(join(box.feedDir, 'files', 'tapeeng-19.0.2.bin'))), 'second file copied');

  for (const id of [...chain].reverse()) {
    const result = action(box, id, 'uninstall');
    t.equal(result.status, 0, `${id} uninstall exits 0: ${result.stderr}`);
    t.notOk(await detected(box, id), `${id} not detected after uninstall`);
  }
  t.same(await readdir(join(box.installDir, 'patches')), [], 'no markers left');
  t.same(await readdir(join(box.installDir, 'lib')), [], 'no product files left');
  t.notOk(await exists(join(box.installDir, 'bin')), 'copied driver removed');
});

t.test('a .conf patch copies its config, and a second install run is harmless', async (t) => {
  const box = sandbox(t.testdir());
  t.equal(action(box, 'T5KB0214', 'install').status, 0);
  t.equal(action(box, 'T5KB0214', 'install').status, 0, 'idempotent');
  t.match(await readFile(join(box.installDir, 'config', 'ca_discovery.conf'), 'utf8'), /max_parallel_probes/);
  t.equal(action(box, 'T5KB0214', 'uninstall').status, 0);
  t.notOk(await exists(join(box.installDir, 'config')));
});

t.test('the failing patch exits 3 with a message on stderr and changes nothing', async (t) => {
  const box = sandbox(t.testdir());
  const result = action(box, 'T5KB0210', 'install');
  t.equal(result.status, 3);
  t.match(result.stderr, /CASUniversalAgent is locked/);
  t.notOk(await exists(box.installDir), 'nothing written');
  t.notOk(await detected(box, 'T5KB0210'));
});

t.test('the patch without an uninstall command refuses to uninstall from its script too', async (t) => {
  const box = sandbox(t.testdir());
  const patch = box.patches.get('T5KB0206')!;
  t.equal(patch.uninstall, undefined);
  t.equal(action(box, 'T5KB0201', 'install').status, 0);
  t.equal(action(box, 'T5KB0206', 'install').status, 0);
  t.ok(await exists(join(box.installDir, 'db', 'schema', 'T5KB0206.sql')));
  const script = join(box.feedDir, 'files', 'T5KB0206.sh');
  const result = run(['sh', script, 'uninstall', box.installDir, 'T5KB0206']);
  t.equal(result.status, 4);
  t.ok(await detected(box, 'T5KB0206'), 'still installed');
});

t.test('the reboot patch says so; scripts refuse an empty or root install dir and a wrong id', async (t) => {
  const box = sandbox(t.testdir());
  t.match(action(box, 'T5KB0207', 'install').stdout, /reboot is required/);
  const script = join(box.feedDir, 'files', 'T5KB0101.sh');
  for (const bad of ['', '/', '//']) {
    const result = run(['sh', script, 'uninstall', bad, 'T5KB0101']);
    t.equal(result.status, 2, `install dir ${JSON.stringify(bad)} refused`);
    t.match(result.stderr, /refusing install directory/);
  }
  t.equal(run(['sh', script, 'install', box.installDir, 'T5KB0102']).status, 2, 'wrong patch id refused');
  t.equal(run(['sh', script, 'explode', box.installDir, 'T5KB0101']).status, 2, 'unknown action');
  t.notOk(await exists(join(box.installDir, 'patches', 'T5KB0101.installed')));
});
