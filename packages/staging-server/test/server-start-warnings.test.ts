// A start prints no Node warning (fastify 5 deprecates its top-level disableRequestLogging: a
// FastifyDeprecation line on every start, which an admin reads as something wrong).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const BIN = fileURLToPath(new URL('../bin/patchbay-server.js', import.meta.url));

t.test('serve starts without a deprecation or any other Node warning', async (t) => {
  const dir = t.testdir();
  const child = spawn(
    process.execPath,
    [
      BIN,
      '--data-dir',
      dir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--upstream',
      'file:///nonexistent/',
      'serve',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATCHBAY_LOG_LEVEL: 'warn' } },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('"url"')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  child.kill('SIGTERM');
  await once(child, 'exit');
  t.notMatch(stderr, /Deprecation|FSTDEP|\(node:\d+\) \w*Warning/, 'no Node warning on stderr');
});
