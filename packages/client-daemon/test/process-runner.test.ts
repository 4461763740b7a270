import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCommand } from '../src/process-runner.js';

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return false;
  }
}

t.test('exit code and output go to the log, argv is not interpreted by a shell', async (t) => {
  const dir = t.testdir();
  const logPath = path.join(dir, 'x.log');
  const res = await runCommand(
    ['sh', '-c', 'echo "out $1"; echo err >&2; exit 7', 'sh', '$(touch pwned); *'],
    {
      timeoutMs: 5000,
      logPath,
      cwd: dir,
    },
  );
  t.equal(res.exitCode, 7);
  t.equal(res.timedOut, false);
  const log = readFileSync(logPath, 'utf8');
  t.match(log, /out \$\(touch pwned\); \*/);
  t.match(log, /err/);
  t.match(log, /exit code 7/);
});

t.test('a missing program is a spawn error, not a crash', async (t) => {
  const res = await runCommand(['/nonexistent/program'], { timeoutMs: 1000 });
  t.ok(res.spawnError);
  t.equal(res.exitCode, null);
});

t.test('timeout kills the whole process tree, grandchildren included', async (t) => {
  const dir = t.testdir();
  const pidFile = path.join(dir, 'gc.pid');
  const res = await runCommand(
    ['sh', '-c', `sleep 1000 & echo $! > "${pidFile}"; trap "" TERM; while true; do sleep 0.05; done`],
    { timeoutMs: 500, killGraceMs: 300 },
  );
  t.equal(res.timedOut, true);
  t.ok(res.durationMs < 5000);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  t.ok(gone(pid), `grandchild ${pid} was killed`);
});
