// recoverFromCrash's clean-up of writeFileAtomic temps in the data directory and tuf/:
// a dead writer's temp goes, a live writer's (a write in flight) stays; and a survivor's kill.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { ContentStore, createLogger } from '@patchbay/core';
import { installFakeTool } from '../../../test/helpers/fake-windows-tool.js';
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

// Windows mode on Linux: a survivor past its deadline is found by its pid (no process groups
// there) and its tree killed with taskkill, here a fake on PATH that kills the pid.
t.test('win32: a survivor past its timeout is killed with taskkill /pid N /T /F', async (t) => {
  const dir = t.testdir();
  const taskkill = installFakeTool(dir, 'taskkill', 'kill -9 "$2"');
  const paths = dataPaths(path.join(dir, 'data'));
  await mkdir(paths.root, { recursive: true });
  // not detached: on Windows the survivor leads no group, so only its pid can be asked
  const survivor = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => survivor.kill('SIGKILL'));
  const ledger = await Ledger.open(paths.ledger);
  await ledger.markPending('T5KB0208', 'install');
  await ledger.notePendingProcess('T5KB0208', survivor.pid ?? 0, 0); // its timeout has passed

  const logger = createLogger({ name: 'test', level: 'silent' });
  const session = { logger, paths, store: new ContentStore(paths.cache) } as unknown as Session;
  t.same(await recoverFromCrash(session, ledger, 'win32'), ['T5KB0208'], 'recorded as interrupted');
  t.same(taskkill.calls(), [['/pid', String(survivor.pid), '/T', '/F']]);
  t.equal(survivor.signalCode ?? (await once(survivor, 'exit'))[1], 'SIGKILL', 'the survivor was killed');
});
