// What every report store must do, run against each of them: SQLite (the embedded default)
// and PostgreSQL (database.url; a throwaway cluster for this file, a database per case).
// The store-internal cases (SQLite's query plans and file migrations) stay in their own
// files; PostgreSQL-only cases (replicas, restarts) are in report-store-postgres.test.ts.
import t, { type Test } from 'tap';
import { isRelevant, type ClientReport, type PatchState } from '@patchbay/core';
import { complianceRowJson } from '../src/http/compliance-json.js';
import { jsonArrayParts } from '../src/http/json-stream.js';
import { buildCompliance, buildHostMatrix } from '../src/reports/compliance.js';
import { complianceByPatch, readHostProfiles } from '../src/reports/compliance-export.js';
import { buildComplianceCounts } from '../src/reports/compliance-counts.js';
import { counterHostPage } from '../src/reports/host-page.js';
import { ReportStore } from '../src/reports/report-store.js';
import type {
  ReportStoreOptions,
  RollupAdmission,
  RollupHostWrite,
} from '../src/reports/report-store-api.js';
import { PRUNE_BATCH_SIZE, pruneExpiredEvents } from '../src/reports/retention.js';
import {
  MISSING_STATES,
  type CachedPatchQuery,
  type CachedPatchRow,
  type HistoryQuery,
  type ReportOrigin,
  type StoredEvent,
} from '../src/reports/types.js';
import { downloadedPages, sortHosts, type DownloadedRow, type PatchFilters } from '../src/reports/views.js';
import { startPostgres } from '../../../test/helpers/postgres.js';
import { report } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';
import { freshDatabase, openPostgresStore } from './fixtures/postgres-report-store.js';

interface StoreKind {
  name: string;
  /** A store on fresh storage; `reopen` opens another on the same storage (after close). */
  open(
    t: Test,
    options?: ReportStoreOptions,
  ): Promise<{ store: ReportStore; reopen(): Promise<ReportStore> }>;
}

const sqlite: StoreKind = {
  name: 'sqlite',
  async open(t, options = {}) {
    const dir = t.testdir();
    const opened: ReportStore[] = [];
    t.teardown(() => Promise.all(opened.map((s) => s.close())));
    const open = async () => {
      const store = await ReportStore.open(dir, options);
      opened.push(store);
      return store;
    };
    return { store: await open(), reopen: open };
  },
};

const cluster = await startPostgres(t);
const postgres: StoreKind | undefined = cluster && {
  name: 'postgres',
  async open(t, options = {}) {
    const url = await freshDatabase(cluster, 'contract');
    const open = async () => (await openPostgresStore(t, url, options)).store;
    return { store: await open(), reopen: open };
  },
};

const KINDS = [sqlite, ...(postgres ? [postgres] : [])];

/** `body(t, store)` once per kind of store, each on fresh storage. */
function contract(
  name: string,
  body: (t: Test, store: ReportStore, kind: StoreKind) => Promise<void>,
  options?: ReportStoreOptions,
): void {
  for (const kind of KINDS)
    t.test(`${kind.name}: ${name}`, async (t) => {
      const { store } = await kind.open(t, options);
      await body(t, store, kind);
    });
}

const TYPES = ['check', 'download', 'install', 'uninstall', 'error'] as const;

/** 50 hosts × 5 events, one a minute, patches P0..P(patches-1). */
function fleetReports(patches: number): ClientReport[] {
  return Array.from({ length: 50 }, (_, h) =>
    report(`host-${h}`, {
      events: TYPES.map((type, i) => ({
        seq: i + 1,
        type,
        patchId: `P${(h + i) % patches}`,
        at: new Date(Date.UTC(2026, 10, 1) + (h * 5 + i) * 60_000).toISOString(),
        outcome: 'ok',
        message: '',
      })),
    }),
  );
}

const install = (seq: number, at: string, more: Partial<StoredEvent> = {}) => ({
  seq,
  type: 'install' as const,
  patchId: 'P1',
  at,
  outcome: 'ok',
  message: '',
  ...more,
});

contract(
  'history answers match a brute-force filter, newest first, and page once over all',
  async (t, store) => {
    t.equal(await store.ingestMany(fleetReports(7)), 250);
    const all = await store.history({ limit: 10_000 });
    t.equal(all.length, 250);
    const sorted = [...all].sort((a, b) => (a.at === b.at ? b.id - a.id : b.at.localeCompare(a.at)));
    t.same(all, sorted, 'newest first');
    t.same(
      await store.history({ host: 'host-7', type: 'install', limit: 10 }),
      all.filter((e) => e.hostId === 'host-7' && e.type === 'install'),
    );
    const seen: number[] = [];
    let cursor: HistoryQuery['before'];
    for (;;) {
      const page = await store.history({ limit: 37, ...(cursor ? { before: cursor } : {}) });
      seen.push(...page.map((e) => e.id));
      const last = page.at(-1);
      if (page.length < 37 || !last) break;
      cursor = (await store.eventCursor(last.id)) ?? undefined;
    }
    t.same(
      seen,
      all.map((e) => e.id),
    );
    t.equal(await store.eventCursor(999_999), null);
    t.equal(await store.lastEventId(), Math.max(...all.map((e) => e.id)));
  },
);

contract(
  'the filters (until, since, installs, severity, release) match a brute-force filter',
  async (t, store) => {
    await store.recordPatchFacts([patch('P0'), patch('P1', { severity: 'optional', release: '18.0' })]);
    await store.ingestMany(fleetReports(2));
    const since = '2026-11-01T01:00:00.000Z';
    const until = '2026-11-01T03:00:00.000Z';
    const all = await store.history({ limit: 10_000 });
    const expect = (pred: (e: StoredEvent) => boolean) => all.filter(pred).map((e) => e.id);
    const ids = async (q: HistoryQuery) => (await store.history(q)).map((e) => e.id);
    const installs = (e: StoredEvent) => e.type === 'install' || e.type === 'uninstall';
    t.same(
      await ids({ until, limit: 1000 }),
      expect((e) => e.at < until),
    );
    t.same(
      await ids({ since, until, limit: 1000 }),
      expect((e) => e.at >= since && e.at < until),
    );
    t.same(await ids({ installsOnly: true, limit: 1000 }), expect(installs));
    t.same(
      await ids({ installsOnly: true, type: 'check', limit: 1000 }),
      expect((e) => e.type === 'check'),
    );
    t.same(
      await ids({ severity: 'optional', limit: 1000 }),
      expect((e) => e.patchId === 'P1'),
    );
    t.same(
      await ids({ release: '19.0', installsOnly: true, host: 'host-3', limit: 1000 }),
      expect((e) => e.patchId === 'P0' && installs(e) && e.hostId === 'host-3'),
    );
    t.same(await ids({ severity: 'recommended', limit: 1000 }), [], 'no patch of that severity');
    const facts = await store.patchFacts();
    t.same(facts.get('P1'), {
      patchId: 'P1',
      title: 'Patch P1',
      severity: 'optional',
      product: 'arcserve-backup',
      release: '18.0',
    });
    // A later catalog changes a patch's facts; a patch that left the catalog keeps its row.
    await store.recordPatchFacts([
      patch('P1', { severity: 'critical' }),
      patch('P1', { severity: 'important' }),
    ]);
    t.equal((await store.patchFacts()).get('P1')?.severity, 'important', 'the last of one id wins');
    t.ok((await store.patchFacts()).has('P0'));
  },
);

contract('ingest is idempotent per (hostId, seq)', async (t, store) => {
  const body = report('h', {
    events: [{ seq: 1, type: 'check', at: '2026-11-24T10:00:00.000Z', outcome: 'ok' }],
    patches: [{ id: 'P1', state: 'installed', since: '2026-11-24T10:00:00Z' }],
  });
  t.same(await store.ingest(body), {
    accepted: 1,
    stored: body.events,
    snapshotReplaced: true,
    conflicts: [],
  });
  t.same(
    await store.ingest(body),
    { accepted: 0, stored: [], snapshotReplaced: true, conflicts: [] },
    'a resend stores nothing',
  );
});

for (const kind of KINDS)
  t.test(`${kind.name}: what was stored is there after reopening`, async (t) => {
    const { store, reopen } = await kind.open(t);
    await store.ingest(
      report('h', {
        events: [{ seq: 1, type: 'check', at: '2026-11-24T10:00:00.000Z', outcome: 'ok' }],
        patches: [{ id: 'P1', state: 'installed', since: '2026-11-24T10:00:00Z' }],
      }),
    );
    await store.close();
    const reopened = await reopen();
    t.equal((await reopened.history({ limit: 10 })).length, 1);
    t.same((await reopened.getClient('h'))?.patches, [
      { id: 'P1', state: 'installed', since: '2026-11-24T10:00:00Z' },
    ]);
    t.same(await reopened.countClients('2000-01-01T00:00:00.000Z'), { total: 1, stale: 0 });
  });

contract(
  'events are kept per (hostId, instanceId, seq): a re-imaged host loses nothing',
  async (t, store) => {
    const OLD = 'aaaaaaaa-0000-4000-8000-000000000001';
    const NEW = 'bbbbbbbb-0000-4000-8000-000000000002';
    const first = await store.ingest(
      report('h', {
        instanceId: OLD,
        reportedAt: '2026-11-24T10:00:00.000Z',
        events: [install(1, '2026-11-24T10:00:00.000Z')],
      }),
    );
    t.same(
      first.newInstance,
      { instanceId: OLD, previous: [], knownHost: false },
      "the host's first instance",
    );
    t.equal(first.accepted, 1);
    const second = await store.ingest(
      report('h', {
        instanceId: NEW,
        reportedAt: '2026-11-25T10:00:00.000Z',
        events: [install(1, '2026-11-25T10:00:00.000Z')],
      }),
    );
    t.equal(second.accepted, 1, 'seq 1 of the new instance is stored, not taken for a resend');
    t.same(second.newInstance, { instanceId: NEW, previous: [OLD], knownHost: true });
    t.same(
      (await store.history({ host: 'h', limit: 10 })).map((e) => [e.seq, e.instanceId, e.at]),
      [
        [1, NEW, '2026-11-25T10:00:00.000Z'],
        [1, OLD, '2026-11-24T10:00:00.000Z'],
      ],
    );
    const client = await store.getClient('h');
    t.equal(client?.instanceId, NEW);
    t.same(
      client?.instances.map((i) => i.instanceId),
      [NEW, OLD],
      'newest first',
    );
    const late = await store.ingest(
      report('h', {
        instanceId: OLD,
        reportedAt: '2026-11-24T11:00:00.000Z',
        events: [install(2, '2026-11-24T11:00:00.000Z')],
      }),
    );
    t.equal(late.accepted, 1);
    t.notOk(late.snapshotReplaced, 'an older report does not replace the snapshot');
    t.equal(late.newInstance, undefined);
    t.equal(
      (await store.getClient('h'))?.instanceId,
      NEW,
      "a late report of the old instance leaves the host's",
    );
    // a rollup names each event's instance, which need not be the report's
    const rolled = await store.ingest(
      report('h', {
        instanceId: NEW,
        reportedAt: '2026-11-25T10:00:00.000Z',
        events: [install(3, '2026-11-24T12:00:00.000Z', { instanceId: OLD })],
      }),
    );
    t.equal(rolled.accepted, 1);
    t.same(
      (await store.history({ host: 'h', limit: 10 })).filter((e) => e.seq === 3).map((e) => e.instanceId),
      [OLD],
    );
  },
);

contract(
  'a resend whose content differs from the stored event is reported as a conflict',
  async (t, store) => {
    const event = install(7, '2026-11-24T10:00:00.000Z');
    await store.ingest(report('h', { events: [event] }));
    t.same(
      (await store.ingest(report('h', { events: [event] }))).conflicts,
      [],
      'a true resend is no conflict',
    );
    const other = { ...event, patchId: 'P2', outcome: 'failed', message: 'boom', output: 'last lines' };
    const result = await store.ingest(report('h', { events: [other] }));
    t.equal(result.accepted, 0);
    t.same(result.conflicts, [
      {
        seq: 7,
        instanceId: '',
        stored: { type: 'install', patchId: 'P1', at: event.at, outcome: 'ok', message: '', output: null },
        sent: {
          type: 'install',
          patchId: 'P2',
          at: event.at,
          outcome: 'failed',
          message: 'boom',
          output: 'last lines',
        },
      },
    ]);
    t.same(
      (await store.history({ host: 'h', limit: 10 })).map((e) => e.patchId),
      ['P1'],
      'the stored event is kept',
    );
    const twice = await store.ingest(report('h2', { events: [event, other] }));
    t.equal(twice.accepted, 1, 'a key twice in one report: the first is stored');
    t.equal(twice.conflicts.length, 1, 'the second conflicts with it');
  },
);

contract('a daemon upgraded to instance ids resending its outbox doubles nothing', async (t, store) => {
  const event = install(5, '2026-11-24T10:00:00.000Z');
  t.equal((await store.ingest(report('h', { events: [event] }))).accepted, 1, 'sent by the old daemon');
  const upgraded = 'cccccccc-0000-4000-8000-000000000003';
  const again = await store.ingest(report('h', { instanceId: upgraded, events: [event] }));
  t.equal(again.accepted, 0);
  t.same(again.stored, [], 'so nothing mails twice');
  t.same(again.conflicts, []);
  const next = { ...event, seq: 6, at: '2026-11-24T11:00:00.000Z' };
  t.equal((await store.ingest(report('h', { instanceId: upgraded, events: [next] }))).accepted, 1);
  t.equal((await store.history({ host: 'h', limit: 10 })).length, 2);
});

contract('reports of one turn are stored together; one that fails fails alone', async (t, store) => {
  const event = { seq: 1, type: 'check' as const, at: '2026-11-24T10:00:00.000Z', outcome: 'ok' };
  const patches = [{ id: 'P1', state: 'installed' as const }];
  const good = Array.from({ length: 300 }, (_, i) => report(`host-${i}`, { patches, events: [event] }));
  // The same patch twice breaks the (hostId, patchId) key.
  const bad = report('host-bad', {
    events: [event],
    patches: [
      { id: 'P1', state: 'installed' },
      { id: 'P1', state: 'failed' },
    ],
  });
  // The database refuses an event without a type, after the host's row and states are written.
  const late = report('host-late-failure', {
    patches,
    events: [{ ...event, type: null } as unknown as ClientReport['events'][number]],
  });
  const before = await store.revision();
  const settled = await Promise.allSettled([
    ...good.slice(0, 100).map((r) => store.ingestSoon(r)),
    store.ingestSoon(late),
    ...good.slice(100, 150).map((r) => store.ingestSoon(r)),
    store.ingestSoon(bad),
    ...good.slice(150).map((r) => store.ingestSoon(r)),
  ]);
  t.same(
    settled.flatMap((s, i) => (s.status === 'rejected' ? [i] : [])),
    [100, 151],
    'only the bad reports are refused',
  );
  t.equal(
    (await store.listClients()).length,
    300,
    'every good report is stored, more than one batch of them',
  );
  t.equal(await store.getClient('host-bad'), null, 'nothing of the bad report is stored');
  t.equal(await store.getClient('host-late-failure'), null, 'nor of one failing after its snapshot');
  t.same(await store.patchStateCounts(), await recount(store), 'the counters hold the stored reports only');
  t.not(await store.revision(), before, 'the revision moved');
  t.equal((await store.ingestSoon(good[0]!)).accepted, 0, 'a resent report adds no event');
});

for (const kind of KINDS)
  t.test(`${kind.name}: close stores what is still waiting for its commit`, async (t) => {
    const { store, reopen } = await kind.open(t);
    const pending = store.ingestSoon(
      report('host-late', { events: [install(1, '2026-11-24T10:00:00.000Z')] }),
    );
    await store.close();
    t.same((await pending).accepted, 1);
    t.equal((await (await reopen()).listClients())[0]?.hostId, 'host-late');
  });

contract('a report resent while the first copy waits in the same batch is stored once', async (t, store) => {
  const first = report('host-twice', {
    events: [install(1, '2026-11-24T10:00:00.000Z'), install(2, '2026-11-24T10:01:00.000Z')],
  });
  const [a, b] = await Promise.all([store.ingestSoon(first), store.ingestSoon(structuredClone(first))]);
  t.equal(a.accepted + b.accepted, 2, 'two events stored in all, not four');
  t.equal((await store.history({ host: 'host-twice', limit: 10 })).length, 2);
});

contract(
  'retention deletes events older than the cutoff in batches; hosts and states stay',
  async (t, store) => {
    const now = Date.parse('2026-11-24T12:00:00.000Z');
    const day = 86_400_000;
    const expired = 2 * PRUNE_BATCH_SIZE + 7;
    const cutoff = new Date(now - 365 * day).toISOString();
    const events = [
      ...Array.from({ length: expired }, (_, i) => ({
        seq: i + 1,
        type: 'check' as const,
        at: new Date(now - 400 * day - i * 1000).toISOString(),
        outcome: 'ok',
      })),
      ...Array.from({ length: 30 }, (_, i) =>
        install(expired + i + 1, new Date(now - i * day).toISOString()),
      ),
      // exactly on the cutoff: kept (only events *older* go)
      { seq: expired + 31, type: 'check' as const, at: cutoff, outcome: 'ok' },
    ];
    await store.ingest(report('h', { events, patches: [{ id: 'P1', state: 'installed' }] }));
    t.equal(
      await pruneExpiredEvents(store, 365, new Date(now)),
      expired,
      'reports.retentionDays: returns how many were deleted',
    );
    const left = await store.history({ limit: 100_000 });
    t.equal(left.length, 31);
    t.ok(
      left.every((e) => e.at >= cutoff),
      'only events inside the window remain',
    );
    t.equal(await store.deleteEventsBefore(cutoff, PRUNE_BATCH_SIZE), 0, 'a second run finds nothing');
    t.equal((await store.getClient('h'))?.patches.length, 1, 'hosts and their states are not pruned');
    t.equal(
      await store.deleteEventsBefore(new Date(now - 10 * day).toISOString(), 7),
      20,
      'in batches smaller than the work',
    );
    await t.rejects(pruneExpiredEvents(store, 0, new Date(now)), {
      code: 'PB_ERR_CONFIG',
      message: /retentionDays/,
    });
  },
);

contract(
  'an older report never rolls back a snapshot inside the skew window',
  async (t, store) => {
    const at = '2026-11-24T10:00:00.000Z';
    const snapshot = async (hostId: string, reportedAt: string, state: 'installed' | 'failed') =>
      (await store.ingest(report(hostId, { reportedAt, patches: [{ id: 'P1', state }] }), at))
        .snapshotReplaced;
    // The host's clock is 2 minutes ahead: inside the window, so its time still orders reports.
    t.ok(await snapshot('h-03', '2026-11-24T10:02:00.000Z', 'installed'));
    t.notOk(await snapshot('h-03', '2026-11-24T10:01:00.000Z', 'failed'));
    t.same(
      (await store.getClient('h-03'))?.patches,
      [{ id: 'P1', state: 'installed' }],
      'the newer snapshot kept',
    );
    t.equal((await store.getClient('h-03'))?.lastSeenAt, at, 'its arrival is noted all the same');
    // Ten minutes ahead of its arrival: out of the window, so the next report replaces it.
    t.ok(await snapshot('h-04', '2026-11-24T10:10:00.000Z', 'installed'));
    t.ok(await snapshot('h-04', '2026-11-24T10:01:00.000Z', 'failed'));
    t.same((await store.getClient('h-04'))?.patches, [{ id: 'P1', state: 'failed' }]);
    // A far-future time stored before ingest refused them does not block a real report.
    t.ok(await snapshot('h-05', '9999-12-31T00:00:00.000Z', 'installed'));
    t.ok(await snapshot('h-05', '2026-11-24T10:00:00.000Z', 'failed'));
  },
  { maxClockSkewSeconds: 300 },
);

contract('a re-report replaces the snapshot: changed, added and removed patch states', async (t, store) => {
  await store.ingest(
    report('h', {
      patches: [
        { id: 'P1', state: 'installed', since: '2026-11-20T00:00:00Z' },
        { id: 'P2', state: 'available', cached: true },
        { id: 'P3', state: 'failed', reason: 'exit 3' },
      ],
    }),
    '2026-11-24T10:00:00.000Z',
  );
  await store.ingest(
    report('h', {
      reportedAt: '2026-11-24T11:00:00Z',
      pendingReboot: true,
      patches: [
        { id: 'P1', state: 'installed', since: '2026-11-20T00:00:00Z' },
        { id: 'P2', state: 'downloaded' },
        { id: 'P4', state: 'blocked', reason: 'needs P1' },
      ],
    }),
    '2026-11-24T11:00:00.000Z',
  );
  const client = await store.getClient('h');
  t.same(client?.patches, [
    { id: 'P1', state: 'installed', since: '2026-11-20T00:00:00Z' },
    { id: 'P2', state: 'downloaded' },
    { id: 'P4', state: 'blocked', reason: 'needs P1' },
  ]);
  t.equal(client?.lastSeenAt, '2026-11-24T11:00:00.000Z');
  t.equal(client?.reportedAt, '2026-11-24T11:00:00Z');
  t.equal(client?.pendingReboot, true);
  t.equal(client?.lastReport.pendingReboot, true, 'the last report, without its events');
  t.notOk('events' in (client?.lastReport ?? {}));
  t.same(
    await store.cachedPatches(),
    [{ patchId: 'P2', hostId: 'h', hostname: 'h.corp', state: 'downloaded', cached: null, since: null }],
    "a 'downloaded' row counts as cached",
  );
  t.same(await store.listClients(), [
    {
      hostId: 'h',
      hostname: 'h.corp',
      platform: 'linux',
      daemonVersion: '0.1.0',
      lastSeenAt: '2026-11-24T11:00:00.000Z',
      products: [{ id: 'arcserve-backup', release: '19.0' }],
      pendingReboot: true,
      installed: 1,
      missing: 2,
      failed: 0,
    },
  ]);
});

contract('a re-report leaves the host as a first report of the same content would', async (t, store) => {
  const at = (minute: number) => new Date(Date.UTC(2026, 10, 24, 10, minute)).toISOString();
  const first = report('h', {
    instanceId: 'i-1',
    patches: [
      { id: 'P1', state: 'installed', since: '2026-11-20T00:00:00Z' },
      { id: 'P2', state: 'available', cached: true },
      { id: 'P3', state: 'failed', reason: 'exit 3' },
    ],
  });
  const branch: ReportOrigin = { path: ['branch'], keys: ['aaaa'] };
  const steps: [string, Partial<ClientReport>, ReportOrigin | null][] = [
    ['the same states, later', {}, null],
    ['a new name, a reboot pending', { hostname: 'renamed.corp', pendingReboot: true }, null],
    [
      'one state changed, one gone, one added, one no longer cached',
      {
        patches: [
          { id: 'P1', state: 'installed', since: '2026-11-20T00:00:00Z' },
          { id: 'P2', state: 'available', cached: false },
          { id: 'P4', state: 'blocked', reason: 'needs P1' },
        ],
      },
      null,
    ],
    ['through a branch, from a new instance', { instanceId: 'i-2' }, branch],
    ['itself again, the same states', { instanceId: 'i-2' }, null],
  ];
  await store.ingest(first, at(0));
  let sent = first;
  for (const [i, [name, change, origin]] of steps.entries()) {
    sent = { ...sent, ...change, reportedAt: at(i + 1) };
    await store.ingest(sent, at(i + 1), origin);
    // The same content as the first report of another host: what a fresh write holds.
    const twin = `twin-${i}`;
    await store.ingest({ ...sent, hostId: twin }, at(i + 1), origin);
    const [host, fresh] = await Promise.all([store.getClient('h'), store.getClient(twin)]);
    const comparable = (c: typeof host) =>
      c && { ...c, hostId: 'h', lastReport: { ...c.lastReport, hostId: 'h' }, instances: [], events: [] };
    t.same(comparable(host), comparable(fresh), name);
    t.equal(host?.lastSeenAt, at(i + 1), `${name}: its arrival noted`);
    const { events: _events, ...withoutEvents } = sent;
    t.same(host?.lastReport, withoutEvents, `${name}: the last report as sent`);
  }
  t.same(
    (await store.getClient('h'))?.instances.map((i) => i.instanceId),
    ['i-2', 'i-1'],
  );
  t.same(await store.patchStateCounts(), await recount(store), 'the counters moved by what changed');
});

contract(
  'reports of many hosts stored together answer as if stored one at a time',
  async (t, batched, kind) => {
    const { store: single } = await kind.open(t);
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 24, 10, minute)).toISOString();
    const check = (seq: number, message = '') => ({
      seq,
      type: 'check' as const,
      at: at(0),
      outcome: 'ok',
      message,
    });
    const states = (state: PatchState) => [
      { id: 'P1', state },
      { id: 'P2', state: 'available' as const },
    ];
    const before = [
      report('known', { instanceId: 'i-1', reportedAt: at(0), events: [check(1)] }),
      report('resends', { reportedAt: at(0), events: [check(1)] }),
    ];
    const together = [
      report('newer-then-older', {
        instanceId: 'i-1',
        reportedAt: at(5),
        patches: states('installed'),
        events: [check(1)],
      }),
      report('older-then-newer', { reportedAt: at(1), patches: states('failed') }),
      report('known', {
        instanceId: 'i-2',
        reportedAt: at(3),
        patches: states('missing'),
        events: [check(2)],
      }),
      report('new-instance', { instanceId: 'i-3', reportedAt: at(3), events: [check(1), check(1, 'twice')] }),
      report('older-then-newer', { reportedAt: at(2), patches: states('installed'), events: [check(1)] }),
      report('newer-then-older', { reportedAt: at(4), patches: states('failed'), events: [check(2)] }),
      report('resends', { reportedAt: at(1), events: [check(1), check(1, 'other'), check(2)] }),
    ];
    for (const store of [batched, single]) for (const r of before) await store.ingest(r);
    const results = await Promise.all(together.map((r) => batched.ingestSoon(r)));
    const expected = [];
    for (const r of together) expected.push(await single.ingest(r));
    t.same(results, expected, 'each report answered as alone');
    const hostIds = [...new Set(together.map((r) => r.hostId))];
    const view = async (store: ReportStore, hostId: string) => {
      const client = await store.getClient(hostId);
      return (
        client && {
          ...client,
          lastSeenAt: undefined,
          instances: client.instances.map((i) => i.instanceId),
          events: client.events.map(({ seq, message, instanceId }) => ({ seq, message, instanceId })),
        }
      );
    };
    for (const hostId of hostIds) t.same(await view(batched, hostId), await view(single, hostId), hostId);
    t.same(await batched.patchStateCounts(), await single.patchStateCounts(), 'the same counts');
  },
);

contract('the fleet views: pages, states, profiles, names, counts', async (t, store) => {
  await store.ingestMany(
    Array.from({ length: 7 }, (_, i) =>
      report(`h${i}`, {
        pendingReboot: i === 5,
        patches: [
          { id: 'P1', state: i % 2 ? 'installed' : 'failed', since: '2026-11-24T09:00:00Z', cached: i === 1 },
          ...(i === 3 ? [{ id: 'P2', state: 'available' as const }] : []),
        ],
      }),
    ),
    '2026-11-24T10:00:00.000Z',
  );
  const all = (await store.listClients()).map((c) => c.hostId);
  t.same(all, ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listClients({ limit: 3, ...(after !== undefined ? { after } : {}) });
    seen.push(...page.map((c) => c.hostId));
    if (page.length < 3) break;
    after = page.at(-1)?.hostId;
  }
  t.same(seen, all, 'pages cover every host once, in order');
  const states = await store.allStates();
  t.same(
    [...(states.get('P1')?.entries() ?? [])].sort(),
    all.map((h, i) => [h, i % 2 ? 'installed' : 'failed']),
  );
  t.same([...(states.get('P2')?.entries() ?? [])], [['h3', 'available']]);
  t.same((await store.hostProfiles())[5], {
    hostId: 'h5',
    hostname: 'h5.corp',
    lastSeenAt: '2026-11-24T10:00:00.000Z',
    platform: 'linux',
    products: [{ id: 'arcserve-backup', release: '19.0' }],
    pendingReboot: true,
  });
  t.same(await store.hostnames(['h1', 'nobody', 'h1']), new Map([['h1', 'h1.corp']]));
  t.same(await store.cachedPatches({ patch: 'P1' }), [
    {
      patchId: 'P1',
      hostId: 'h1',
      hostname: 'h1.corp',
      state: 'installed',
      cached: true,
      since: '2026-11-24T09:00:00Z',
    },
  ]);
  t.same(await store.cachedPatches({ host: 'h2' }), []);
  t.same(await store.countClients('2026-11-24T10:00:00.000Z'), { total: 7, stale: 0 });
  t.same(await store.countClients('2026-11-24T10:00:00.001Z'), { total: 7, stale: 7 });
  t.same(
    await store.countClientStates('2000-01-01T00:00:00.000Z'),
    new Map([
      ['failed', 4],
      ['behind', 1],
      ['compliant', 1],
      ['pending_reboot', 1],
    ]),
  );
  t.equal(await store.lastSeenMax(), '2026-11-24T10:00:00.000Z');
  t.equal(await store.lastEventId(), 0, 'no events yet');
  t.equal(await store.getClient('nobody'), null);
});

contract('rollup: a branch’s hosts in one transaction, their origin, what is forwarded', async (t, store) => {
  const origin = { path: ['branch-b', 'branch-a'], keys: ['bbbb', 'aaaa'] };
  const before = await store.revision();
  const results = await store.ingestRollup(
    { branchId: 'branch-b', mirror: 'bbbb' },
    admitAll([
      {
        report: report('r-1', { events: [install(1, '2026-11-24T09:00:00.000Z')] }),
        origin,
        receivedAt: '2026-11-24T09:30:00.000Z',
      },
      { report: report('r-2'), origin, receivedAt: '2026-11-24T09:40:00.000Z' },
    ]),
    '2026-11-24T10:00:00.000Z',
  );
  t.same(
    results.map((r) => r.accepted),
    [1, 0],
  );
  t.not(await store.revision(), before);
  t.same(await store.branches(), [
    { branchId: 'branch-b', mirror: 'bbbb', lastRollupAt: '2026-11-24T10:00:00.000Z', hosts: 2 },
  ]);
  t.same(await store.originsOf(['r-1', 'nobody']), new Map([['r-1', 'branch-b']]));
  t.equal(
    (await store.getClient('r-2'))?.lastSeenAt,
    '2026-11-24T09:40:00.000Z',
    "the branch's time of hearing",
  );
  t.match(await store.listClients(), [
    { hostId: 'r-1', via: 'branch-b', viaPath: origin.path },
    { hostId: 'r-2' },
  ]);
  t.match(await store.history({ limit: 10 }), [{ hostId: 'r-1', via: 'branch-b' }]);
  const forwarded = await store.rollupClients();
  t.same(
    forwarded.map((c) => [c.hostId, c.origin, c.lastReport.hostname]),
    [
      ['r-1', origin, 'r-1.corp'],
      ['r-2', origin, 'r-2.corp'],
    ],
  );
  const events = await store.eventsAfter(0, 10);
  t.match(events, [{ hostId: 'r-1', seq: 1 }]);
  t.same(await store.eventsAfter(events[0]!.id, 10), []);
  // the host now reports itself: its branch binding is cleared
  await store.ingest(report('r-1', { reportedAt: '2026-11-24T11:00:00Z' }));
  t.same(await store.originsOf(['r-1']), new Map([['r-1', null]]));
  t.equal((await store.rollupClients())[0]?.origin, null);
});

contract('revision moves with every ingest, whatever its outcome', async (t, store) => {
  const seen = [await store.revision()];
  const body = report('h', { events: [install(1, '2026-11-24T10:00:00.000Z')] });
  await store.ingest(body);
  seen.push(await store.revision());
  await store.ingest(body); // a resend: nothing new, still an ingest
  seen.push(await store.revision());
  await store.ingestSoon(report('h2'));
  seen.push(await store.revision());
  await store.ingestMany([report('h3')]);
  seen.push(await store.revision());
  t.equal(new Set(seen).size, seen.length, `each ingest moved it: ${seen.join(', ')}`);
  t.equal(await store.revision(), seen.at(-1), 'reading it moves nothing');
});

/** A small deterministic generator (mulberry32), so a failing sequence can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** patchId → (state → hosts), recounted from every stored state. */
async function recount(store: ReportStore): Promise<Map<string, Map<PatchState, number>>> {
  const counts = new Map<string, Map<PatchState, number>>();
  for (const [patchId, hosts] of await store.allStates()) {
    const states = new Map<PatchState, number>();
    for (const state of hosts.values()) states.set(state, (states.get(state) ?? 0) + 1);
    counts.set(patchId, states);
  }
  return counts;
}

/** hostId → the /v1/clients counts of every host, from its counters (listClients). */
async function hostCounters(store: ReportStore): Promise<Map<string, [number, number, number]>> {
  return new Map((await store.listClients()).map((c) => [c.hostId, [c.installed, c.missing, c.failed]]));
}

/** The same from every reported state (hosts without patches at 0). */
async function recountHosts(store: ReportStore): Promise<Map<string, [number, number, number]>> {
  const counts = new Map(
    (await store.hostProfiles()).map((h): [string, [number, number, number]] => [h.hostId, [0, 0, 0]]),
  );
  for (const hosts of (await store.allStates()).values())
    for (const [hostId, state] of hosts) {
      const host = counts.get(hostId)!;
      if (state === 'installed') host[0]++;
      else if (MISSING_STATES.includes(state)) host[1]++;
      else if (state === 'failed') host[2]++;
    }
  return counts;
}

contract(
  'the per-patch and per-host state counters equal a recount after every kind of ingest',
  async (t, store) => {
    const random = seededRandom(16);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const states: PatchState[] = ['installed', 'missing', 'failed', 'superseded', 'downloaded'];
    let minute = 0;
    /** A report of a random host with a random subset of P0..P5 in random states, newer than the last. */
    const randomReport = (older = false): ClientReport =>
      report(`host-${Math.floor(random() * 12)}`, {
        reportedAt: new Date(Date.UTC(2026, 10, 24) + (older ? 0 : ++minute) * 60_000).toISOString(),
        patches: Array.from({ length: 6 }, (_, i) => `P${i}`)
          .filter(() => random() < 0.6)
          .map((id) => ({ id, state: pick(states) })),
      });
    for (let round = 0; round < 12; round++) {
      const kind = round % 5;
      if (kind === 0) await store.ingest(randomReport());
      else if (kind === 1)
        await Promise.all(Array.from({ length: 6 }, () => store.ingestSoon(randomReport())));
      else if (kind === 2) await store.ingestMany(Array.from({ length: 6 }, () => randomReport()));
      else if (kind === 3)
        await store.ingestRollup(
          { branchId: 'branch', mirror: 'aaaa' },
          admitAll(
            Array.from({ length: 4 }, () => ({
              report: randomReport(),
              origin: { path: ['branch'], keys: ['aaaa'] },
              receivedAt: '2026-11-24T10:00:00.000Z',
            })),
          ),
        );
      // an outbox report older than the snapshot: its states must not count
      else await store.ingest(randomReport(true));
      t.same(await store.patchStateCounts(), await recount(store), `round ${round}`);
      t.same(await hostCounters(store), await recountHosts(store), `round ${round}: per host`);
    }
    t.ok((await store.patchStateCounts()).size > 0, 'the sequence stored states');
    // A host re-reporting without a patch takes it out of the counts.
    const [patchId, byState] = [...(await store.patchStateCounts())][0]!;
    const hosts = [...((await store.allStates()).get(patchId)?.keys() ?? [])];
    for (const hostId of hosts)
      await store.ingest(report(hostId, { reportedAt: '2026-12-24T10:00:00Z', patches: [] }));
    t.notOk(
      (await store.patchStateCounts()).has(patchId),
      `${patchId} left every host (was ${[...byState]})`,
    );
    t.same(await store.patchStateCounts(), await recount(store));
    t.same(await hostCounters(store), await recountHosts(store));
  },
);

contract(
  'the compliance counts from counters and profiles equal those from every state',
  async (t, store) => {
    const random = seededRandom(3);
    const catalog = [
      patch('P0', { rebootRequired: true }),
      patch('P1', { platforms: ['win32'] }),
      patch('P2', { release: '18.0', rebootRequired: true }),
    ];
    const states: PatchState[] = ['installed', 'missing', 'failed', 'superseded', 'downloaded'];
    const profiles = [
      { platform: 'linux', products: [{ id: 'arcserve-backup', release: '19.0' }] },
      { platform: 'win32', products: [{ id: 'arcserve-backup', release: '19.0' }] },
      { platform: 'linux', products: [{ id: 'arcserve-backup', release: '18.0' }] },
    ];
    await store.ingestMany(
      Array.from({ length: 40 }, (_, h) => {
        const profile = profiles[h % 3]!;
        // each host reports a random part of the patches relevant to it (the rest: unreported)
        const patches = catalog
          .filter((p) => isRelevant(p, profile) && random() < 0.7)
          .map((p) => ({ id: p.id, state: states[Math.floor(random() * states.length)]! }));
        return report(`host-${h}`, { ...profile, patches, pendingReboot: random() < 0.5 });
      }),
    );
    t.same((await store.profileCounts()).map((p) => p.hosts).sort(), [13, 13, 14], 'hosts per profile');
    const [fleetStates, hosts] = [await store.allStates(), await store.hostProfiles()];
    const full = buildCompliance(catalog, hosts, fleetStates).map(
      ({ hosts: _hosts, via: _via, ...row }) => row,
    );
    const counts = buildComplianceCounts(catalog, {
      states: await store.patchStateCounts(),
      profiles: await store.profileCounts(),
      pendingReboot: await store.pendingRebootInstalls(),
    });
    t.same(counts, full);
    t.ok(
      counts.some((row) => row.pendingReboot > 0),
      'the fleet has installed patches awaiting a reboot',
    );
    // The host view's pages from the hosts' counters equal those cut from the whole matrix.
    const whole = buildHostMatrix(catalog, hosts, fleetStates);
    const tallies = {
      states: await store.patchStateCounts(),
      profiles: await store.profileCounts(),
      pendingReboot: await store.pendingRebootInstalls(),
    };
    for (const sort of ['behind', 'failed', 'hostId', 'lastSeenAt'] as const)
      for (const order of ['asc', 'desc'] as const)
        t.same(
          await counterHostPage(store, catalog, tallies, { sort, order, offset: 5, limit: 10 }),
          { total: 40, patches: whole.patches, hosts: sortHosts(whole.hosts, sort, order).slice(5, 15) },
          `host view by ${sort} ${order}`,
        );
    // A stored state of a patch the catalog no longer has: the counters cannot say.
    t.equal(
      await counterHostPage(store, catalog.slice(1), tallies, {
        sort: 'behind',
        order: 'desc',
        offset: 0,
        limit: 10,
      }),
      null,
    );
  },
);

/** A rollup admission that stores every entry, whatever the origins. */
function admitAll(hosts: readonly RollupHostWrite[]): RollupAdmission {
  return { hostIds: hosts.map((h) => h.report.hostId), admit: () => hosts };
}

contract(
  'rollup: origins in one lookup, read inside the transaction that stores what they admit',
  async (t, store) => {
    const entry = (hostId: string, branch = 'branch-b'): RollupHostWrite => ({
      report: report(hostId, { events: [install(1, '2026-11-24T09:00:00.000Z')] }),
      origin: { path: [branch], keys: ['bbbb'] },
      receivedAt: '2026-11-24T09:30:00.000Z',
    });
    await store.ingest(report('direct'));
    await store.ingestRollup(
      { branchId: 'branch-c', mirror: 'cccc' },
      admitAll([entry('elsewhere', 'branch-c')]),
    );
    t.same(
      await store.originsOf(['direct', 'elsewhere', 'nobody', 'direct']),
      new Map([
        ['direct', null],
        ['elsewhere', 'branch-c'],
      ]),
      'known hosts only, each once; null: reports itself',
    );
    t.same(await store.originsOf([]), new Map(), 'no hosts: nothing');

    const seen: ReadonlyMap<string, string | null>[] = [];
    const results = await store.ingestRollup(
      { branchId: 'branch-b', mirror: 'bbbb' },
      {
        hostIds: ['direct', 'elsewhere', 'new-1', 'new-2'],
        admit: (origins) => {
          seen.push(origins);
          // what the route's plan does: only hosts no one else reports
          return ['direct', 'elsewhere', 'new-1', 'new-2']
            .filter((id) => !origins.has(id))
            .map((id) => entry(id));
        },
      },
      '2026-11-24T10:00:00.000Z',
    );
    t.same(
      seen.at(-1),
      new Map([
        ['direct', null],
        ['elsewhere', 'branch-c'],
      ]),
      'admit saw the stored origins',
    );
    t.same(
      results.map((r) => r.accepted),
      [1, 1],
      'one result per admitted entry, in its order',
    );
    t.same(
      await store.originsOf(['direct', 'elsewhere', 'new-1', 'new-2']),
      new Map([
        ['direct', null],
        ['elsewhere', 'branch-c'],
        ['new-1', 'branch-b'],
        ['new-2', 'branch-b'],
      ]),
      'the refused hosts are untouched, the admitted ones are the branch’s',
    );
    t.match(await store.branches(), [
      { branchId: 'branch-b', hosts: 2 },
      { branchId: 'branch-c', hosts: 1 },
    ]);

    // admit throwing undoes the whole rollup: nothing stored, the branch not recorded
    await t.rejects(
      store.ingestRollup(
        { branchId: 'branch-d', mirror: 'dddd' },
        {
          hostIds: ['new-3'],
          admit: () => {
            throw new Error('refused by the test');
          },
        },
      ),
      /refused by the test/,
    );
    t.same(await store.originsOf(['new-3']), new Map(), 'nothing of it stored');
    t.equal((await store.branches()).length, 2, 'nor its branch');
  },
);

contract(
  'the exports read a part at a time: a patch’s states, Patches Downloaded by page',
  async (t, store) => {
    const random = seededRandom(7);
    const catalog = [
      patch('P0'),
      patch('P1', { platforms: ['win32'] }),
      patch('P2', { severity: 'optional' }),
    ];
    const states: PatchState[] = ['installed', 'downloaded', 'failed', 'available'];
    await store.recordPatchFacts(catalog);
    await store.ingestMany(
      Array.from({ length: 30 }, (_, h) => {
        const platform = h % 2 === 0 ? 'linux' : 'win32';
        const patches = catalog
          .filter((p) => isRelevant(p, { platform, products: [{ id: 'arcserve-backup', release: '19.0' }] }))
          .filter(() => random() < 0.8)
          .map((p) => ({
            id: p.id,
            state: states[Math.floor(random() * states.length)]!,
            cached: random() < 0.3,
          }));
        return report(`host-${String(h).padStart(2, '0')}`, { platform, patches });
      }),
    );
    const all = await store.allStates();
    for (const p of catalog)
      t.same(await store.patchStates(p.id), all.get(p.id) ?? new Map(), `${p.id}: its states`);
    t.same(await store.patchStates('P9'), new Map(), 'a patch no host reported');

    const hosts = await store.hostProfiles();
    t.same(await readHostProfiles(store, 7), hosts, 'the hosts read 7 at a time');
    let text = '';
    for await (const part of jsonArrayParts(complianceByPatch(store, catalog, hosts), complianceRowJson))
      text += part;
    t.equal(
      text,
      JSON.stringify(buildCompliance(catalog, hosts, all)),
      'compliance a patch at a time, as from every state',
    );

    const whole = await store.cachedPatches();
    t.ok(whole.length > 12, `${whole.length} cached rows, several pages of 4`);
    for (const query of [{}, { patch: 'P0' }, { host: 'host-03' }]) {
      const paged: CachedPatchRow[] = [];
      let after: CachedPatchQuery['after'];
      for (;;) {
        const page = await store.cachedPatches({ ...query, limit: 4, ...(after ? { after } : {}) });
        paged.push(...page);
        const last = page.at(-1);
        if (page.length < 4 || last === undefined) break;
        after = { patchId: last.patchId, hostId: last.hostId };
      }
      t.same(
        paged,
        await store.cachedPatches(query),
        `pages of 4 make the whole list: ${JSON.stringify(query)}`,
      );
    }

    const downloaded = async (filters: PatchFilters, pageSize: number): Promise<DownloadedRow[]> => {
      const rows: DownloadedRow[] = [];
      for await (const page of downloadedPages(store, filters, () => true, pageSize)) rows.push(...page);
      return rows;
    };
    t.same(await downloaded({}, 4), await downloaded({}, 10_000), 'Patches Downloaded: pages make the whole');
    t.same(
      (await downloaded({ severity: 'optional' }, 4)).map((r) => `${r.patchId}@${r.hostId}`),
      whole.filter((r) => r.patchId === 'P2').map((r) => `${r.patchId}@${r.hostId}`),
      'a filter applied in code keeps what the pages hold',
    );
  },
);

contract(
  'a bulk load larger than one statement stores every host once, its newer report kept',
  async (t, store) => {
    // 600 hosts (more than one part of 256), one of them twice, the newer report arriving first
    const reports = Array.from({ length: 600 }, (_, h) =>
      report(`bulk-${String(h).padStart(3, '0')}`, { patches: [{ id: 'P1', state: 'installed' }] }),
    );
    reports.push(
      report('bulk-007', { reportedAt: '2026-11-24T12:00:00Z', patches: [{ id: 'P1', state: 'failed' }] }),
    );
    await store.ingestMany(reports.reverse());
    t.equal((await store.countClients('')).total, 600, 'every host stored once');
    t.equal((await store.allStates()).get('P1')?.get('bulk-007'), 'failed', "the host's newer report");
    t.equal((await store.patchStateCounts()).get('P1')?.get('installed'), 599, 'counters as stored');
  },
);
