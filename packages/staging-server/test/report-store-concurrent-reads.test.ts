// The ReportStore answers with promises, so readers that arrive together interleave: those
// that cache what they derive from the whole fleet (the compliance cache, the client-state
// counts of /metrics) share one read rather than each reading the fleet, and never hand a
// reader a read begun before a report it could already see; report requests that arrive
// while a new catalog's patch facts are being recorded wait for them.
import t, { type Test } from 'tap';
import { ClientStateCounts } from '../src/metrics/fleet-states.js';
import { ComplianceCache } from '../src/reports/compliance-cache.js';
import type { HostMatrix } from '../src/reports/compliance.js';
import { ReportStore } from '../src/reports/report-store.js';
import { report, startHarness } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';

const patches = [{ id: 'P1', state: 'installed' as const, since: '2026-11-24T10:00:00Z' }];

async function openStore(t: Test): Promise<ReportStore> {
  const store = await ReportStore.open(t.testdir());
  t.teardown(() => store.close());
  await store.ingest(report('host-a', { patches }));
  return store;
}

t.test('compliance: readers at the same revision share one read of the fleet', async (t) => {
  const store = await openStore(t);
  const reads = { hostProfiles: 0, allStates: 0 };
  const cache = new ComplianceCache({
    revision: () => store.revision(),
    hostProfiles: () => (reads.hostProfiles++, store.hostProfiles()),
    allStates: () => (reads.allStates++, store.allStates()),
  });
  const [a, b, c] = await Promise.all([cache.fleet(), cache.fleet(), cache.fleet()]);
  t.same(reads, { hostProfiles: 1, allStates: 1 }, 'three readers, one read');
  t.equal(a, b);
  t.equal(b, c);
  t.same(
    a.hosts.map((h) => h.hostId),
    ['host-a'],
  );
  t.equal(await cache.fleet(), a, 'kept while no report arrives');
  await store.ingest(report('host-b', { patches }));
  const after = await cache.fleet();
  t.same(
    after.hosts.map((h) => h.hostId),
    ['host-a', 'host-b'],
    'read again after a report',
  );
  t.same(reads, { hostProfiles: 2, allStates: 2 });
});

t.test('compliance: a reader that saw a later report does not take a read begun before it', async (t) => {
  const store = await openStore(t);
  // As a network database does: each query reads when it is sent and answers later.
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const cache = new ComplianceCache({
    revision: () => store.revision(),
    hostProfiles: async () => {
      const rows = await store.hostProfiles();
      await gate;
      return rows;
    },
    allStates: () => store.allStates(),
  });
  const early = cache.fleet();
  // Let the first read start before the report goes in.
  await new Promise((resolve) => setImmediate(resolve));
  await store.ingest(report('host-b', { patches }));
  const late = cache.fleet();
  release();
  t.same(
    (await early).hosts.map((h) => h.hostId),
    ['host-a'],
    'the early reader has the fleet as it was',
  );
  t.same(
    (await late).hosts.map((h) => h.hostId),
    ['host-a', 'host-b'],
    'the later reader sees the report it came after',
  );
  t.equal(await cache.fleet(), await late, 'and that read is kept');
});

t.test('compliance: the host matrix is built again when the fleet was read again', async (t) => {
  const store = await openStore(t);
  const cache = new ComplianceCache(store);
  let builds = 0;
  const build = (): HostMatrix => (builds++, { patches: [], hosts: [] });
  const first = await cache.hostMatrix('k', build);
  t.equal(await cache.hostMatrix('k', build), first, 'same key, same fleet: kept');
  await store.ingest(report('host-b', { patches }));
  t.not(await cache.hostMatrix('k', build), first, 'a report arrived: built again');
  t.equal(builds, 2);
});

t.test('metrics: scrapes that arrive together share one count of the fleet by state', async (t) => {
  const store = await openStore(t);
  let counted = 0;
  const counting: ReportStore = {
    ...store,
    countClientStates: (staleBefore) => (counted++, store.countClientStates(staleBefore)),
  };
  const now = Date.parse('2026-11-24T12:00:00Z');
  const counts = new ClientStateCounts(counting, 24, () => now);
  const [a, b] = await Promise.all([counts.get(), counts.get()]);
  t.equal(counted, 1, 'two scrapes, one count');
  t.same(a, b);
  t.match(a, { compliant: 1 });
  // A failed count is not kept: the next scrape counts again.
  let attempts = 0;
  const failing = new ClientStateCounts(
    { ...store, countClientStates: () => (attempts++, Promise.reject(new Error('database gone'))) },
    24,
    () => now,
  );
  await t.rejects(failing.get(), /database gone/);
  await t.rejects(failing.get(), /database gone/);
  t.equal(attempts, 2, 'tried again, not the first failure kept');
});

t.test('reports: a request that arrives while the patch facts are recorded waits for them', async (t) => {
  // As a network database does: the recording answers later (once the gate opens).
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let recordings = 0;
  const h = await startHarness(t, {
    wrapStore: (store) => ({
      ...store,
      recordPatchFacts: async (patches) => {
        recordings++;
        await gate;
        return store.recordPatchFacts(patches);
      },
    }),
  });
  const install = {
    seq: 1,
    type: 'install' as const,
    patchId: 'P2',
    at: '2026-11-24T08:00:00Z',
    outcome: 'ok',
  };
  await h.store.ingest(report('alpha', { events: [install] }));
  h.mirror.publish([patch('P1'), patch('P2', { severity: 'recommended' })]);
  // Each request asks for the catalog first; once both have, the first one's recording ends.
  const current = h.mirror.current.bind(h.mirror);
  let asked = 0;
  h.mirror.current = () => {
    if (++asked === 2) setImmediate(release);
    return current();
  };
  const installs = async (): Promise<unknown[]> => {
    const res = await fetch(`${h.base}/v1/reports/installs?severity=recommended`);
    t.equal(res.status, 200);
    return ((await res.json()) as { hostId: string; patchId: string }[]).map(
      (r) => `${r.hostId}:${r.patchId}`,
    );
  };
  const [first, second] = await Promise.all([installs(), installs()]);
  t.same(first, ['alpha:P2']);
  t.same(second, ['alpha:P2'], 'the second request found the facts recorded');
  t.equal(recordings, 1, 'recorded once for the catalog');
});

t.test("host view pages read the fleet's counts once per revision, and again after a report", async (t) => {
  let reads = 0;
  const h = await startHarness(t, {
    wrapStore: (store) => ({
      ...store,
      profileCounts: () => (reads++, store.profileCounts()),
    }),
  });
  h.mirror.publish([patch('P1')]);
  await h.store.ingest(report('alpha', { patches }));
  await h.store.ingest(report('beta', { patches: [] }));
  const page = async (after?: string): Promise<string[]> => {
    const url = `${h.base}/v1/reports/compliance?view=hosts&limit=1${after ? `&offset=1` : ''}`;
    const res = await fetch(url);
    t.equal(res.status, 200);
    return ((await res.json()) as { hosts: { hostId: string }[] }).hosts.map((host) => host.hostId);
  };
  const first = await page();
  const second = await page('next');
  t.same([...first, ...second].sort(), ['alpha', 'beta'], 'two pages, each host once');
  t.equal(reads, 1, 'one read of the counts for both pages');
  await h.store.ingest(report('gamma', { patches }));
  t.equal((await page()).length, 1);
  t.equal(reads, 2, 'read again after a report');
});
