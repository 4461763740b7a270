// How the crash harness judges a killed sync: from the report stored in state.sqlite, not from
// the log lines it saw. pino writes asynchronously, so a SIGKILL can swallow 'sync finished'
// although the finished report was stored; a harness that trusted the log then demanded an
// "interrupted" report for a sync that had ended (a false violation, once in 50 kills).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { seededRandom } from './figures.js';
import { storedLastSync } from './server-crash-disk.js';
import { newFeedModel, writeFeed } from './server-crash-feed.js';
import { judgeSyncCut, runAndKill } from './server-crash-rig.js';
import { BIN, run } from '../helpers/processes.js';

const earlier = { startedAt: '2026-12-07T08:00:00.000Z', outcome: 'ok' } as const;
const running = { startedAt: '2026-12-07T08:01:00.000Z', outcome: 'running' } as const;
const finished = { startedAt: '2026-12-07T08:01:00.000Z', outcome: 'ok' } as const;

t.test('log cut before "sync finished" but the finished report stored: not interrupted', async (t) => {
  const cut = judgeSyncCut({ killed: true, midSync: true }, earlier, finished);
  t.same(cut, { interrupted: false, newReportStored: true, logBehind: true });
});

t.test('a stored running report is an interrupted sync, whatever the log showed', async (t) => {
  t.same(judgeSyncCut({ killed: true, midSync: true }, earlier, running), {
    interrupted: true,
    newReportStored: true,
    logBehind: false,
  });
  t.same(
    judgeSyncCut({ killed: true, midSync: false }, earlier, running),
    { interrupted: true, newReportStored: true, logBehind: false },
    "the log lost even 'sync started'",
  );
});

t.test('no kill, or no new report: nothing was cut', async (t) => {
  t.equal(judgeSyncCut({ killed: false, midSync: false }, earlier, finished).interrupted, false);
  t.same(
    judgeSyncCut({ killed: true, midSync: false }, earlier, earlier),
    { interrupted: false, newReportStored: false, logBehind: false },
    'killed before the sync stored its report',
  );
  t.same(judgeSyncCut({ killed: true, midSync: false }, undefined, undefined), {
    interrupted: false,
    newReportStored: false,
    logBehind: false,
  });
  t.equal(judgeSyncCut({ killed: true, midSync: false }, undefined, running).newReportStored, true);
});

t.test('killed right after the finished report is stored (sync:after-report): no interruption', async (t) => {
  const dir = t.testdir();
  const dataDir = path.join(dir, 'server-data');
  const feed = newFeedModel(path.join(dir, 'feed'), seededRandom(1), 3, { minBytes: 1000, maxBytes: 5000 });
  await writeFeed(feed);
  const config = path.join(dir, 'staging-server.json');
  writeFileSync(
    config,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir,
      upstream: { url: `${pathToFileURL(feed.dir).href}/` },
      mirror: { products: [{ id: 'acme-backup', releases: ['1.0'] }] },
      schedule: { sync: null },
    }),
  );
  const killed = await runAndKill(config, 'sync', { kind: 'failpoint', name: 'sync:after-report' });
  t.equal(killed.failpointHit, 'sync:after-report', killed.stderr.slice(-2000));
  t.ok(killed.killed);
  const stored = await storedLastSync(dataDir);
  t.equal(stored?.outcome, 'ok', 'the finished report was stored before the kill');
  // The log may or may not have carried 'sync finished' out: judge as if it had not.
  const cut = judgeSyncCut({ killed: true, midSync: true }, undefined, stored);
  t.equal(cut.interrupted, false, 'no interruption is expected of the restart');
  const restart = await run(BIN.server, ['--config', config, 'sync']);
  t.equal(restart.code, 0, restart.stderr);
  t.notMatch(restart.stderr, /previous sync was interrupted/, 'and the restart claims none');
});
