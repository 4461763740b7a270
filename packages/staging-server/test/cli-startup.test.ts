// Startup failures of the built patchbay-server as a child process: an unusable data directory
// and a port in use fail at once, with a message that says what to do, and make nothing first.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { BIN, type Run } from './fixtures/server-cli.js';

/** Well below the hang it guards against (a recursive mkdir under /proc spins for good). */
const FAST_MS = 15_000;

/** Run the program; a child still running after `limitMs` is killed and the result says so. */
function runWithin(args: string[], limitMs = FAST_MS): Promise<Run & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

const procUsable = existsSync('/proc/self') && statSync('/proc').isDirectory();

t.test(
  'sync --data-dir under /proc fails at once (exit 2) naming dataDir',
  { skip: procUsable ? false : 'no /proc on this system' },
  async (t) => {
    const dir = t.testdir({});
    const r = await runWithin(['--data-dir', '/proc/patchbay-x', '--upstream', `file://${dir}/`, 'sync']);
    t.notOk(r.killed, 'exits by itself, does not spin');
    t.equal(r.code, 2, r.stderr);
    t.match(
      r.stderr,
      /patchbay-server: dataDir \/proc\/patchbay-x is not usable: cannot create \/proc\/patchbay-x/,
    );
    t.match(r.stderr, /hint: .*--data-dir/);
    t.notMatch(r.stderr, /unexpected/);
  },
);

t.test('a data directory under a file (ENOTDIR) says which part is a file', async (t) => {
  const dir = t.testdir({ file: 'not a directory' });
  const r = await runWithin(['--data-dir', join(dir, 'file', 'data'), '--port', '0', 'serve']);
  t.notOk(r.killed);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /is not usable: .*file is a file, not a directory/);
  t.notMatch(r.stderr, /unexpected: please report it/);
});

t.test('serve on a port in use: exit 2, says so, makes no key first', async (t) => {
  const dir = t.testdir({ data: {} });
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const port = (holder.address() as AddressInfo).port;
  const r = await runWithin([
    '--data-dir',
    join(dir, 'data'),
    '--upstream',
    `file://${dir}/`,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    'serve',
  ]);
  t.notOk(r.killed);
  t.equal(r.code, 2, r.stderr);
  t.match(
    r.stderr,
    new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: another program already listens there`),
  );
  t.notMatch(r.stderr, /unexpected: please report it/);
  t.same(readdirSync(join(dir, 'data')), [], 'no key, no report store: nothing made in the data directory');
});
