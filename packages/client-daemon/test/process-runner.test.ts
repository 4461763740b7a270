import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { installFakeTool } from '../../../test/helpers/fake-windows-tool.js';
import { killProcessTree, runCommand } from '../src/process-runner.js';
import { running } from './fixtures/processes.js';

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
  t.notOk(running(pid), `grandchild ${pid} was killed`);
});

t.test('the output tail: the last 2 KiB of this run, from a line start, cleaned (issue 14)', async (t) => {
  const dir = t.testdir();
  const logPath = path.join(dir, 'x.log');
  // an earlier run in the same log is not this run's output
  await runCommand(['sh', '-c', 'echo earlier-run'], { timeoutMs: 5000, logPath });
  const script = [
    'i=0; while [ $i -lt 200 ]; do echo "filler line $i"; i=$((i+1)); done',
    // a title-setting OSC, a colour, a bell, CR progress and CRLF: none reaches the tail
    `printf '\\033]0;pwned\\007\\033[31mred\\033[0m bell\\007 50%%\\r100%%\\r\\nlast line\\n'`,
    'echo "fatal: disk on fire" >&2',
    'exit 3',
  ].join('\n');
  const res = await runCommand(['sh', '-c', script], { timeoutMs: 5000, logPath });
  t.equal(res.exitCode, 3);
  const tail = res.outputTail ?? '';
  t.ok(Buffer.byteLength(tail) <= 2048, `bounded (${Buffer.byteLength(tail)} bytes)`);
  t.match(tail.split('\n')[0], /^filler line \d+$/, 'starts at a line start');
  t.match(tail, /red bell 50%\n100%\nlast line\nfatal: disk on fire$/);
  // eslint-disable-next-line no-control-regex -- the test is that none is left
  t.notMatch(tail, /[\u0000-\u0008\u000b-\u001f\u007f]/, 'no escape or control character');
  t.notMatch(
    tail,
    /pwned|earlier-run|^# /m,
    "neither the OSC's text, an earlier run nor patchbay's own lines",
  );

  const quiet = await runCommand(['sh', '-c', 'exit 0'], {
    timeoutMs: 5000,
    logPath: path.join(dir, 'q.log'),
  });
  t.equal(quiet.outputTail, '', 'a silent command has an empty tail');
});

// Windows mode on Linux: the child is not detached (no process groups there) and the tree
// goes through taskkill, here a fake on PATH that records its argv and kills the pid.
t.test(
  'win32: the timeout runs taskkill /pid N /T /F, waits for it, and the run ends timed out',
  async (t) => {
    const dir = t.testdir();
    const ended = path.join(dir, 'taskkill-ended');
    // the tree is gone at once, taskkill itself ends a little later: the run waits for it
    const taskkill = installFakeTool(dir, 'taskkill', `kill -9 "$2"; sleep 0.2; touch '${ended}'`);
    let pid = 0;
    const res = await runCommand(['sh', '-c', 'trap "" TERM; while true; do sleep 0.05; done'], {
      timeoutMs: 300,
      killGraceMs: 60_000,
      onSpawn: (p) => (pid = p),
      treeKill: { platform: 'win32', logger: { warn: () => t.fail('no warning') } },
    });
    t.equal(res.timedOut, true);
    t.equal(res.signal, 'SIGKILL', 'ended by the fake taskkill, not by a SIGTERM to a group');
    t.ok(res.durationMs < 10_000, 'not left for the kill grace');
    t.same(taskkill.calls(), [['/pid', String(pid), '/T', '/F']], 'one call, with the tree flags');
    t.notOk(running(pid));
    t.ok(existsSync(ended), 'taskkill had ended when the run did');
  },
);

t.test(
  'win32: taskkill failing is logged with the pid and its output; "no such process" (128) is not',
  async (t) => {
    const dir = t.testdir();
    installFakeTool(
      dir,
      'taskkill',
      'echo "ERROR: The process with PID $2 could not be terminated."; exit 1',
    );
    const warnings: unknown[] = [];
    const logger = { warn: (obj: unknown) => warnings.push(obj) };
    await killProcessTree(4242, 'SIGTERM', { platform: 'win32', logger });
    t.match(warnings, [{ pid: 4242, exitCode: 1, output: /PID 4242 could not be terminated/ }]);

    installFakeTool(dir, 'taskkill', 'echo "ERROR: The process \\"$2\\" not found."; exit 128');
    warnings.length = 0;
    await killProcessTree(4242, 'SIGKILL', { platform: 'win32', logger });
    t.same(warnings, [], 'an already-gone tree is not a warning');
  },
);
