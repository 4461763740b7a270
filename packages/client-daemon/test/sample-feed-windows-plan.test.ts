import t from 'tap';
import { ErrorCodes, type HostKnowledge, type HostProfile } from '@patchbay/core';
import { evaluate, planInstall, relevantPatches, selectIds } from '../src/planner.js';
import { sampleFeedCatalog } from './fixtures/staging.js';

// The sample feed's Windows patches through the client's planner, on a simulated win32 host and
// on a linux one: which apply, which --critical picks, and the order requirements give.

const { catalog } = sampleFeedCatalog();
const WINDOWS_INSTALLERS = ['T5KB0217', 'T5KB0218', 'T5KB0219', 'T5KB0220'];
const host = (platform: string): HostProfile => ({
  platform,
  products: [{ id: 'arcserve-backup', release: '19.0' }],
});
const knowing = (installed: string[] = []): HostKnowledge => ({
  installed: new Set(installed),
  downloaded: new Set(),
  failed: new Map(),
  uninstalled: new Set(),
});
const ids = (patches: readonly { id: string }[]): string[] => patches.map((p) => p.id);

t.test('a win32 host has the Windows patches; a linux host none of them', async (t) => {
  const onWindows = ids(relevantPatches(catalog, host('win32')));
  for (const id of [...WINDOWS_INSTALLERS, 'T5KB0208']) t.ok(onWindows.includes(id), `${id} on win32`);
  t.notOk(onWindows.includes('T5KB0209'), 'the linux-only patch is not');

  const onLinux = ids(relevantPatches(catalog, host('linux')));
  for (const id of [...WINDOWS_INSTALLERS, 'T5KB0208']) t.notOk(onLinux.includes(id), `${id} not on linux`);
  const states = evaluate(catalog, host('linux'), knowing()).map((e) => e.patch.id);
  t.notOk(
    states.some((id) => WINDOWS_INSTALLERS.includes(id)),
    'not evaluated (so never detected) on linux',
  );
});

t.test('on win32 the tape hotfix plans after the cumulative update it requires', async (t) => {
  const windows = host('win32');
  const plan = planInstall(catalog, windows, knowing(), ['T5KB0219']);
  t.same(ids(plan.order), ['T5KB0217', 'T5KB0219']);
  t.same(plan.blocked, []);

  const withCu = planInstall(catalog, windows, knowing(['T5KB0217']), ['T5KB0219']);
  t.same(ids(withCu.order), ['T5KB0219'], 'an installed requirement is not planned again');

  const critical = selectIds(catalog, evaluate(catalog, windows, knowing()), {
    ids: [],
    all: false,
    critical: true,
  });
  t.ok(critical.includes('T5KB0217') && critical.includes('T5KB0219'), '--critical picks both');
  t.notOk(critical.includes('T5KB0218') || critical.includes('T5KB0220'), 'not the others');
  const order = ids(planInstall(catalog, windows, knowing(), critical).order);
  t.ok(order.indexOf('T5KB0217') < order.indexOf('T5KB0219'), `requirement first: ${order.join(' ')}`);
});

t.test('on linux, naming a Windows patch is refused with the reason', async (t) => {
  const linux = host('linux');
  t.throws(
    () =>
      selectIds(
        catalog,
        evaluate(catalog, linux, knowing()),
        { ids: ['T5KB0219'], all: false, critical: false },
        linux,
      ),
    {
      code: ErrorCodes.UNKNOWN_PATCH,
      message: "T5KB0219 is for win32 only, not this host's platform (linux)",
    },
  );
  const critical = selectIds(catalog, evaluate(catalog, linux, knowing()), {
    ids: [],
    all: false,
    critical: true,
  });
  t.notOk(
    critical.some((id) => WINDOWS_INSTALLERS.includes(id)),
    '--critical on linux picks no Windows patch',
  );
  const plan = planInstall(catalog, linux, knowing(), ['T5KB0217']);
  t.same(ids(plan.order), []);
  t.match(plan.blocked, [{ id: 'T5KB0217', reason: /not in the catalog for this host/ }]);
});
