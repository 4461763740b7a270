// `npm start` (scripts/start.mjs) stops the server it started however it is stopped: by npm's
// pid (npm → sh -c → start.mjs → patchbay-server), or by a SIGHUP to the script itself.
// Real process trees over loopback; the server's pid comes from its data-dir lock file.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { processAlive } from '@patchbay/core';
import { REPO_ROOT, waitFor } from './helpers/processes.js';

const START = path.join(REPO_ROOT, 'scripts/start.mjs');

/** Start a tree, wait until start.mjs says it serves, return the server's pid (from its lock). */
async function startTree(
  t: Test,
  command: string,
  args: string[],
): Promise<{ child: ChildProcess; serverPid: number }> {
  const dataDir = path.join(t.testdir(), 'server');
  const child = spawn(command, [...args, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let serverPid = 0;
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (serverPid && processAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${command} exited ${code} early\n${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('Serving until Ctrl-C')) resolve();
    });
  });
  serverPid = (
    JSON.parse(fs.readFileSync(path.join(dataDir, 'lock', 'owner.json'), 'utf8')) as { pid: number }
  ).pid;
  t.ok(processAlive(serverPid), `the server runs (pid ${serverPid})`);
  return { child, serverPid };
}

t.test('npm start stopped by its pid (SIGTERM to npm) stops the server', async (t) => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const { child, serverPid } = await startTree(t, npm, ['start', '--']);
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
  await waitFor('the server to exit', async () => !processAlive(serverPid), 20_000);
  t.notOk(processAlive(serverPid), 'no server left behind');
});

t.test('SIGHUP to start.mjs stops the server gracefully; the script exits with its status', async (t) => {
  const { child, serverPid } = await startTree(t, process.execPath, [START]);
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  child.kill('SIGHUP');
  const [code, signal] = await exited;
  t.equal(signal, null, 'start.mjs did not die of the signal itself');
  t.equal(code, 0, "the server's graceful stop: exit 0");
  t.notOk(processAlive(serverPid), 'no server left behind');
});
