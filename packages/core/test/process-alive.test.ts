import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { processAlive } from '../src/process-alive.js';

t.test('this process and a running child are alive', async (t) => {
  t.equal(processAlive(process.pid), true);
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  await once(child, 'spawn');
  t.equal(processAlive(child.pid!), true);
});

t.test('a child that has exited and been reaped is not alive', async (t) => {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  t.equal(processAlive(child.pid!), false);
});

t.test('a process that exists but is not ours (EPERM) counts as alive', async (t) => {
  // pid 1 is init: EPERM for an unprivileged user, a plain success for root
  t.equal(processAlive(1), true);
});

t.test('a pid no process can have is not alive', async (t) => {
  t.equal(processAlive(2 ** 31), false);
  t.equal(processAlive(2 ** 40), false);
});
