// How the crash harness judges a killed sync: from the report stored in state.sqlite, not from
// the log lines it saw. pino writes asynchronously, so a SIGKILL can swallow 'sync finished'
// although the finished report was stored; a harness that trusted the log then demanded an
// "interrupted" report for a sync that had ended (a false violation, once in 50 kills).
import t from 'tap';
import { judgeSyncCut } from './server-crash-rig.js';

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
