// recoverFromCrash's clean-up of writeFileAtomic temps in the data directory and tuf/:
// a dead writer's temp goes, a live writer's (a write in flight) stays.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { ContentStore, createLogger } from '@patchbay/core';
import { recoverFromCrash } from '../src/crash-recovery.js';
import { Ledger } from '../src/ledger.js';
import { dataPaths } from '../src/paths.js';
import type { Session } from '../src/session.js';

t.test('temps of dead writers are removed from the data dir and tuf/, live ones kept', async (t) => {
  const paths = dataPaths(t.testdir());
  await mkdir(paths.tuf, { recursive: true });
  const exited = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(exited, 'exit');
  const dead = `.ledger.json.${exited.pid}.0123456789ab.tmp`;
  const deadTuf = `.root.json.${exited.pid}.ba9876543210.tmp`;
  const live = `.catalog.json.${process.pid}.aaaaaaaaaaaa.tmp`;
  await writeFile(path.join(paths.root, dead), '{');
  await writeFile(path.join(paths.root, live), '{');
  await writeFile(path.join(paths.tuf, deadTuf), '{');

  const ledger = await Ledger.open(paths.ledger);
  const logger = createLogger({ name: 'test', level: 'silent' });
  // recoverFromCrash reads only these three of the session
  const session = { logger, paths, store: new ContentStore(paths.cache) } as unknown as Session;
  t.same(await recoverFromCrash(session, ledger), [], 'nothing was interrupted');

  const rootNames = await readdir(paths.root);
  t.notOk(rootNames.includes(dead), 'the dead writer’s temp is gone');
  t.ok(rootNames.includes(live), 'a live writer’s temp stays');
  t.notOk((await readdir(paths.tuf)).includes(deadTuf), 'tuf/ is cleaned too');
});
