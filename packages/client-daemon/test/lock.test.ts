import t from 'tap';
import { createLogger, isPatchbayError } from '@patchbay/core';
import { lockDataDir } from '../src/lock.js';
import { dataPaths } from '../src/paths.js';

t.test('one patchbay-client changes a host at a time', async (t) => {
  const paths = dataPaths(t.testdir());
  const logger = createLogger({ name: 'test', level: 'silent' });
  const release = await lockDataDir(paths, logger);
  await t.rejects(lockDataDir(paths, logger), (err: unknown) => isPatchbayError(err, 'PB_ERR_LOCKED'));
  await release();
  const again = await lockDataDir(paths, logger);
  await again();
});
