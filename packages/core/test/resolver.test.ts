import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  dependantsWithin,
  evaluatePatches,
  installedDependants,
  isRelevant,
  resolveInstallOrder,
} from '../src/resolver.js';
import type { HostKnowledge, HostProfile } from '../src/resolver.js';
import type { FeedPatch } from '../src/types.js';

const HOST: HostProfile = { products: [{ id: 'ab', release: '19.0' }], platform: 'linux' };

// Patches are published one second apart in the order a test makes them. The clock restarts
// for every test, so no test's outcome depends on how many patches the tests before it made,
// and it never wraps (it once counted seconds modulo 60: the 61st patch came out first).
const EPOCH = Date.parse('2026-01-01T00:00:00Z');
let clock = 0;
t.beforeEach(() => {
  clock = 0;
});
function patch(id: string, extra: Partial<FeedPatch> = {}): FeedPatch {
  clock++;
  return {
    id,
    product: 'ab',
    release: '19.0',
    title: id,
    severity: 'critical',
    publishedAt: new Date(EPOCH + clock * 1000).toISOString(),
    files: [],
    install: { command: ['true'] },
    ...extra,
  };
}

function known(installed: string[] = [], extra: Partial<HostKnowledge> = {}): HostKnowledge {
  return {
    installed: new Set(installed),
    downloaded: new Set(),
    failed: new Map(),
    uninstalled: new Set(),
    ...extra,
  };
}

function states(patches: FeedPatch[], k: HostKnowledge, host = HOST): Record<string, string> {
  return Object.fromEntries(
    evaluatePatches(patches, host, k).map((e) => [
      e.patch.id,
      e.reason ? `${e.state}: ${e.reason}` : e.state,
    ]),
  );
}

t.test('relevance: product, release and platform', async (t) => {
  t.ok(isRelevant(patch('A'), HOST));
  t.notOk(isRelevant(patch('A', { release: '18.0' }), HOST));
  t.notOk(isRelevant(patch('A', { product: 'udp' }), HOST));
  t.ok(isRelevant(patch('A', { platforms: ['win32', 'linux'] }), HOST));
  t.notOk(isRelevant(patch('A', { platforms: ['win32'] }), HOST));
  t.ok(isRelevant(patch('A', { platforms: [] }), HOST), 'an empty list means all, like an absent one');
  const evaluated = evaluatePatches(
    [patch('A'), patch('W', { platforms: ['win32'] }), patch('O', { release: '18.0' })],
    HOST,
    known(),
  );
  t.same(
    evaluated.map((e) => e.patch.id),
    ['A'],
    'irrelevant patches are omitted',
  );
});

t.test('states and their precedence', async (t) => {
  const patches = [patch('I'), patch('F'), patch('D'), patch('U'), patch('UD'), patch('AV'), patch('FI')];
  const k = known(['I', 'FI'], {
    downloaded: new Set(['D', 'UD']),
    failed: new Map([
      ['F', 'exit code 3'],
      ['FI', 'old failure'],
    ]),
    uninstalled: new Set(['U', 'UD']),
  });
  t.same(states(patches, k), {
    I: 'installed',
    F: 'failed: exit code 3',
    D: 'downloaded',
    U: 'uninstalled',
    UD: 'uninstalled',
    AV: 'available',
    FI: 'installed',
  });
});

t.test('supersedence: direct and transitive, installed successor only', async (t) => {
  const patches = [
    patch('A'),
    patch('B', { supersedes: ['A'] }),
    patch('C', { supersedes: ['B'] }),
    patch('X', { supersedes: ['Y'] }),
    patch('Y'),
  ];
  t.same(states(patches, known(['C'])), {
    A: 'superseded: superseded by C, which is installed',
    B: 'superseded: superseded by C, which is installed',
    C: 'installed',
    X: 'available',
    Y: 'available',
  });
  t.same(states(patches, known(['A', 'C']))['A'], 'installed', 'installed wins over superseded');
});

t.test('requirements: satisfied by install or by an installed successor', async (t) => {
  const patches = [patch('R'), patch('R2', { supersedes: ['R'] }), patch('P', { requires: ['R'] })];
  t.same(states(patches, known([])).P, 'available', 'an installable requirement does not block');
  t.same(states(patches, known(['R2'])).P, 'available');
  t.same(states(patches, known(['R2'])).R, 'superseded: superseded by R2, which is installed');
});

t.test('blocked: missing, not for this host, transitively blocked, cycles', async (t) => {
  const patches = [
    patch('T5KB0042', { requires: ['T5KB0040'] }),
    patch('W', { requires: ['WINONLY'] }),
    patch('WINONLY', { platforms: ['win32'] }),
    patch('B', { requires: ['T5KB0042'] }),
    patch('C', { requires: ['B'] }),
    patch('X', { requires: ['Y'] }),
    patch('Y', { requires: ['X'] }),
    patch('Z', { requires: ['X'] }),
    patch('S', { requires: ['S'] }),
    patch('OK', { requires: ['T5KB0040'] }),
  ];
  const s = states(patches, known(['T5KB0040']));
  t.equal(s.T5KB0042, 'available', 'installed requirement even when not in the catalog');
  t.same(states(patches, known()), {
    T5KB0042: 'blocked: requires T5KB0040, which is not in the catalog for this host',
    W: 'blocked: requires WINONLY, which is not in the catalog for this host',
    B: 'blocked: requires T5KB0042, which is blocked: T5KB0042 requires T5KB0040, which is not in the catalog for this host',
    C: 'blocked: requires B, which is blocked: T5KB0042 requires T5KB0040, which is not in the catalog for this host',
    X: 'blocked: dependency cycle: X -> Y -> X',
    Y: 'blocked: dependency cycle: Y -> X -> Y',
    Z: 'blocked: requires X, which is blocked: dependency cycle: X -> Y -> X',
    S: 'blocked: dependency cycle: S -> S',
    OK: 'blocked: requires T5KB0040, which is not in the catalog for this host',
  });
});

t.test('output order: product, release, publishedAt, id', async (t) => {
  const patches = [
    patch('b', { publishedAt: '2026-02-01T00:00:00Z' }),
    patch('a', { publishedAt: '2026-02-01T00:00:00Z' }),
    patch('z', { publishedAt: '2026-01-01T00:00:00Z' }),
    patch('r18', { release: '18.0', publishedAt: '2027-01-01T00:00:00Z' }),
  ];
  const host = { ...HOST, products: [...HOST.products, { id: 'ab', release: '18.0' }] };
  t.same(
    evaluatePatches(patches, host, known()).map((e) => e.patch.id),
    ['r18', 'z', 'a', 'b'],
  );
});

t.test('install order: requirements first, skipped and blocked with reasons', async (t) => {
  const patches = [
    patch('A'),
    patch('B', { requires: ['A'] }),
    patch('C', { requires: ['B', 'A'] }),
    patch('D', { requires: ['MISSING'] }),
    patch('E', { requires: ['D'] }),
    patch('OLD'),
    patch('NEW', { supersedes: ['OLD'] }),
    patch('I'),
  ];
  const plan = resolveInstallOrder(patches, HOST, new Set(['I']), ['C', 'E', 'I', 'OLD', 'NEW', 'C']);
  t.same(
    plan.order.map((p) => p.id),
    ['A', 'B', 'C', 'NEW'],
  );
  t.same(plan.skipped, [
    { id: 'I', reason: 'already installed' },
    { id: 'OLD', reason: 'superseded by NEW, which is also selected' },
  ]);
  t.same(
    plan.blocked.map((b) => b.id),
    ['E'],
  );
  t.match(
    plan.blocked[0]?.reason,
    /^requires D, which is blocked: D requires MISSING, which is not in the catalog/,
  );

  const after = resolveInstallOrder(patches, HOST, new Set(['NEW', 'A']), ['OLD', 'B', 'WINDOWS']);
  t.same(
    after.order.map((p) => p.id),
    ['B'],
  );
  t.same(after.skipped, [{ id: 'OLD', reason: 'superseded by NEW, which is installed' }]);
  t.same(after.blocked, [{ id: 'WINDOWS', reason: 'WINDOWS is not in the catalog for this host' }]);
});

t.test('install order: a requirement superseded by a selected patch is replaced by it', async (t) => {
  const patches = [patch('R'), patch('P', { requires: ['R'] }), patch('R2', { supersedes: ['R'] })];
  const plan = resolveInstallOrder(patches, HOST, new Set(), ['P', 'R2']);
  t.same(
    plan.order.map((p) => p.id),
    ['R2', 'P'],
  );
});

t.test('install order is deterministic whatever the input order', async (t) => {
  const patches = [
    patch('A'),
    patch('B'),
    patch('C', { requires: ['B', 'A'] }),
    patch('D', { requires: ['A'] }),
  ];
  const one = resolveInstallOrder(patches, HOST, new Set(), ['D', 'C']).order.map((p) => p.id);
  const two = resolveInstallOrder([...patches].reverse(), HOST, new Set(), ['C', 'D']).order.map((p) => p.id);
  t.same(one, two);
  t.same(one, ['A', 'B', 'C', 'D']);
});

t.test('dependantsWithin: what must fail with a failed patch', async (t) => {
  const patches = [
    patch('A'),
    patch('B', { requires: ['A'] }),
    patch('C', { requires: ['B'] }),
    patch('D'),
    patch('E', { requires: ['D'] }),
  ];
  const plan = resolveInstallOrder(patches, HOST, new Set(), ['C', 'E']);
  t.same(
    plan.order.map((p) => p.id),
    ['A', 'B', 'C', 'D', 'E'],
  );
  t.same(dependantsWithin(plan.order, 'A'), ['B', 'C']);
  t.same(dependantsWithin(plan.order, 'D'), ['E']);
  t.same(dependantsWithin(plan.order, 'C'), []);
});

t.test('installedDependants: cascade order, dependants before what they require', async (t) => {
  const patches = [
    patch('BASE'),
    patch('MID', { requires: ['BASE'] }),
    patch('TOP', { requires: ['MID', 'BASE'] }),
    patch('SIDE', { requires: ['BASE'] }),
    patch('NOTINST', { requires: ['BASE'] }),
    patch('OLDR'),
    patch('NEWR', { supersedes: ['OLDR'] }),
    patch('USER', { requires: ['OLDR'] }),
  ];
  const installed = new Set(['BASE', 'MID', 'TOP', 'SIDE', 'NEWR', 'USER']);
  const order = installedDependants(patches, installed, 'BASE');
  t.same([...order].sort(), ['MID', 'SIDE', 'TOP']);
  t.ok(order.indexOf('TOP') < order.indexOf('MID'), 'TOP before MID');
  t.same(installedDependants(patches, installed, 'TOP'), []);
  t.same(installedDependants(patches, installed, 'NEWR'), ['USER'], 'a requirement met by a successor');
});

t.test('scale: 20,000 patches, deep chains, long cycles — completes without stack overflow', async (t) => {
  const N = 20_000;
  const chain: FeedPatch[] = [];
  for (let i = 0; i < N; i++) chain.push(patch(`C${i}`, { requires: i > 0 ? [`C${i - 1}`] : [] }));
  const evaluated = evaluatePatches(chain, HOST, known());
  t.equal(evaluated.length, N);
  t.ok(evaluated.every((e) => e.state === 'available'));
  const plan = resolveInstallOrder(chain, HOST, new Set(), [`C${N - 1}`]);
  t.equal(plan.order.length, N);
  t.equal(plan.order[0]?.id, 'C0');
  t.equal(plan.order[N - 1]?.id, `C${N - 1}`);
  t.equal(dependantsWithin(plan.order, 'C0').length, N - 1);
  t.equal(installedDependants(chain, new Set(chain.map((p) => p.id)), 'C0')[0], `C${N - 1}`);

  // The same chain hanging off a missing root: all blocked, reasons stay short.
  const broken = chain.map((p, i) => (i === 0 ? { ...p, requires: ['GONE'] } : p));
  const blocked = evaluatePatches(broken, HOST, known());
  t.ok(blocked.every((e) => e.state === 'blocked'));
  t.ok(blocked.every((e) => (e.reason ?? '').length < 200));

  // One cycle through all of them.
  const cycle = chain.map((p, i) => (i === 0 ? { ...p, requires: [`C${N - 1}`] } : p));
  const cyclic = evaluatePatches(cycle, HOST, known());
  t.ok(cyclic.every((e) => e.state === 'blocked' && /dependency cycle: .* more\)/.test(e.reason ?? '')));
  t.match(cyclic.find((e) => e.patch.id === 'C5')?.reason, /^dependency cycle: C5 -> C4 -> /);
  const superseding = chain.map((p, i) => ({ ...p, requires: [], supersedes: i > 0 ? [`C${i - 1}`] : [] }));
  const sup = evaluatePatches(superseding, HOST, known([`C${N - 1}`]));
  t.equal(sup.filter((e) => e.state === 'superseded').length, N - 1);
});

t.test('the test clock: publishing order survives past 60 patches', async (t) => {
  const many = Array.from({ length: 70 }, (_, i) => patch(`P${String(69 - i).padStart(2, '0')}`));
  t.same(
    evaluatePatches(many, HOST, known()).map((e) => e.patch.id),
    many.map((p) => p.id),
    'listed in the order published, not by id, the 61st patch included',
  );
});

t.test('works on a real feed file from disk', async (t) => {
  const dir = t.testdir({ 'patches.json': JSON.stringify([patch('A'), patch('B', { requires: ['A'] })]) });
  const patches = JSON.parse(readFileSync(join(dir, 'patches.json'), 'utf8')) as FeedPatch[];
  t.same(
    resolveInstallOrder(patches, HOST, new Set(), ['B']).order.map((p) => p.id),
    ['A', 'B'],
  );
});
