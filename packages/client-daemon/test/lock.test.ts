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
