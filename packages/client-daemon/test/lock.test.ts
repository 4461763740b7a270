import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createLogger, isPatchbayError } from '@patchbay/core';
import { lockDataDir } from '../src/lock.js';
import { dataPaths } from '../src/paths.js';

t.test('one patchbay-client changes a host at a time', async (t) => {
  const paths = dataPaths(t.testdir());
  const logger = createLogger({ name: 'test', level: 'silent' });
  const release = await lockDataDir(paths, logger);
  const second = await lockDataDir(paths, logger).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(isPatchbayError(second, 'PB_ERR_LOCKED'), 'the second lock is refused with PB_ERR_LOCKED');
  t.match((second as Error).message, /another patchbay-client/);
  t.match(
    (second as Error).message,
    new RegExp(`held by pid ${process.pid} on \\S+ since \\d{4}-`),
    'names the holder, as the server does',
  );
  await release();
  const again = await lockDataDir(paths, logger);
  await again();
});

t.test('a lock whose recorded holder on this host is dead is taken over at once', async (t) => {
  const paths = dataPaths(t.testdir());
  const logger = createLogger({ name: 'test', level: 'silent' });
  const held = await lockDataDir(paths, logger);
  // a real process that has exited stands for a SIGKILLed client; the lock stays fresh
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  const owner = JSON.parse(await readFile(join(paths.lock, 'owner.json'), 'utf8')) as { pid: number };
  await writeFile(join(paths.lock, 'owner.json'), JSON.stringify({ ...owner, pid: child.pid }));
  const release = await lockDataDir(paths, logger);
  t.pass('the second lock was granted');
  await release();
  await held().catch(() => undefined);
});
