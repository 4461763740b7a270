// The sync fault suite: a real sync (the staging server's MirrorService, in-process) against
// the fault-injecting upstream, one scenario per fault kind, seeded trials
// (PATCHBAY_FAULTS=full for the long run, PATCHBAY_FAULT_SEED to replay one).
//
// Transient faults (5xx within the retry budget, reset, truncation, stall) must end `ok` with
// every file stored and resumed, not re-fetched: bytes sent for a file stay within its size
// plus one failed attempt's worth. Persistent faults (corrupt bytes, a Content-Length lie,
// 5xx beyond the budget, a file changed upstream) hold back that patch and its dependants with
// an error naming the file, publish the rest, and never give a bad byte a name in the store.
import t, { type Test } from 'tap';
import type { SyncReport } from '@patchbay/staging-server';
import type { Fault, RecordedRequest } from '../../packages/core/test/fixtures/fault-server.js';
import { Invariants, SEED, seededRandom, trials } from './figures.js';
import {
  between,
  changedFile,
  KiB,
  makePatches,
  seededBytes,
  SyncRig,
  type RigFile,
  type RigPatch,
} from './sync-faults-rig.js';

const SUITE = 'sync-faults';
const RETRIES = 3;

// ---------------------------------------------------------------- transient faults

/** The faults queued for one file of a trial, in the order its requests meet them. */
type Inject = (file: RigFile, random: () => number) => Fault[];

interface TransientTotals {
  bytesFetched: number;
  fileBytes: number;
  resumes: number;
  faults: number;
}

/** Increasing offsets in [16 KiB, size): where successive mid-body faults cut a file. */
function cutPoints(random: () => number, size: number, count: number): number[] {
  const points = new Set<number>();
  while (points.size < count) points.add(between(random, 16 * KiB, size - 1));
  return [...points].sort((a, b) => a - b);
}

/** One request in a failure's detail. */
function describe(req: RecordedRequest): string {
  const ifRange = req.headers['if-range'] ? ` if-range ${req.headers['if-range']}` : '';
  return `${req.headers.range ?? 'whole'}${ifRange} -> ${req.status ?? '-'} ${req.fault ?? 'ok'} ${req.bodyBytes} B`;
}

/** The body bytes a request's answer started at: its Range start, else 0. */
function rangeStart(req: RecordedRequest): number {
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  return match ? Number(match[1]) : 0;
}

async function transientScenario(
  t: Test,
  scenario: string,
  scenarioSeed: number,
  count: number,
  inject: Inject,
  timeoutSeconds?: number,
): Promise<void> {
  const inv = new Invariants(t);
  const totals: TransientTotals = { bytesFetched: 0, fileBytes: 0, resumes: 0, faults: 0 };
  for (let n = 0; n < count; n++) {
    const random = seededRandom(SEED + scenarioSeed * 1000 + n);
    const rig = await SyncRig.open({ retries: RETRIES, timeoutSeconds });
    try {
      const patches = makePatches(random, ['KB1001', 'KB1002', 'KB1003', 'KB1004'], {
        KB1003: ['KB1002'],
      });
      rig.serveFeed(1, patches);
      const targets = patches.filter(() => random() < 0.5);
      if (targets.length === 0) targets.push(patches[between(random, 0, patches.length - 1)]!);
      for (const p of targets) rig.server.queue(p.file.urlPath, ...inject(p.file, random));

      const report = await rig.sync();
      const label = `${scenario} #${n}`;
      inv.check(report.outcome === 'ok', `${label}: the sync ends ok`, {
        outcome: report.outcome,
        error: report.error,
        heldBack: report.heldBack,
      });
      const published = await rig.publishedIds();
      inv.check(
        patches.every((p) => published.includes(p.id)),
        `${label}: every patch is published`,
        { published },
      );
      await rig.checkStore(inv, label, new Set());
      for (const p of patches) checkTransfer(inv, rig, p, label, totals);
    } finally {
      await rig.close();
    }
  }
  inv.record({
    suite: SUITE,
    scenario,
    trials: count,
    bytesFetched: totals.bytesFetched,
    fileBytes: totals.fileBytes,
    note: `${totals.faults} faults, ${totals.resumes} resumes`,
  });
}

/**
 * Bytes and resumes for one file: the upstream sent at most size + one failed attempt's body
 * (resume, not restart), every retry after a mid-body failure asked for the rest with Range and
 * the If-Range of the first answer, and a file without faults was sent exactly once.
 */
function checkTransfer(
  inv: Invariants,
  rig: SyncRig,
  patch: RigPatch,
  label: string,
  totals: TransientTotals,
): void {
  const { file } = patch;
  const requests = rig.requestsThisSync(file.urlPath);
  const sent = requests.reduce((sum, r) => sum + r.bodyBytes, 0);
  const failed = requests.filter((r) => r.fault !== undefined);
  const oneRetry = Math.max(0, ...failed.map((r) => r.bodyBytes));
  totals.bytesFetched += sent;
  totals.fileBytes += file.size;
  totals.faults += failed.length;
  inv.check(sent >= file.size, `${label}: the whole file crossed the wire`, { file: file.urlPath, sent });
  inv.check(
    sent <= file.size + oneRetry,
    `${label}: bytes sent stay within the file size plus one retry's worth`,
    { file: file.urlPath, sent, size: file.size, oneRetry },
  );
  if (failed.length === 0) {
    inv.check(requests.length === 1, `${label}: a file without faults is asked for once`, {
      file: file.urlPath,
      requests: requests.length,
    });
  }
  const etag = rig.server.file(file.urlPath)?.etag;
  requests.forEach((req, i) => {
    const next = requests[i + 1];
    if (req.fault !== undefined && rangeStart(req) + req.bodyBytes === file.size) {
      // A slow answer that still arrived whole must not be fetched again.
      inv.check(next === undefined, `${label}: an answer that arrived whole is not asked for again`, {
        file: file.urlPath,
        requests: requests.map(describe),
      });
      return;
    }
    if (!next || req.fault === undefined || req.bodyBytes === 0 || req.status === undefined) return;
    totals.resumes += 1;
    const start = rangeStart(next);
    inv.check(
      start > 0 && start <= rangeStart(req) + req.bodyBytes,
      `${label}: a retry after a mid-body failure resumes with Range from the bytes it holds`,
      { file: file.urlPath, requests: requests.map(describe) },
    );
    inv.check(next.headers['if-range'] === etag, `${label}: a resume carries If-Range with the ETag`, {
      file: file.urlPath,
      ifRange: next.headers['if-range'],
      etag,
    });
  });
}

t.test('5xx bursts within the retry budget', (t) =>
  transientScenario(t, '5xx burst within budget', 1, trials(3, 20), (_file, random) => {
    const status = [500, 502, 503, 504][between(random, 0, 3)]!;
    const headers: Record<string, string> = random() < 0.3 ? { 'retry-after': '0' } : {};
    const length = between(random, 1, RETRIES);
    return Array.from({ length }, () => ({ kind: 'status', status, headers }));
  }),
);

t.test('connection reset mid-body', (t) =>
  transientScenario(t, 'reset mid-body', 2, trials(3, 20), (file, random) =>
    relative(cutPoints(random, file.size, between(random, 1, 2))).map((bytes) => ({
      kind: 'reset-after',
      bytes,
    })),
  ),
);

/** Faults at increasing file offsets: each answer is a 206 from where the last one stopped. */
function relative(points: number[]): number[] {
  return points.map((p, i) => p - (i === 0 ? 0 : points[i - 1]!));
}

t.test('body truncated under a correct Content-Length', (t) =>
  transientScenario(t, 'truncated body', 3, trials(3, 20), (file, random) =>
    relative(cutPoints(random, file.size, between(random, 1, RETRIES))).map((bytes) => ({
      kind: 'close-after',
      bytes,
    })),
  ),
);

const STALL_TIMEOUT_SECONDS = 2;

t.test('stalls: no bytes for longer than the stall timeout, or a slow but live answer', (t) =>
  transientScenario(
    t,
    'stall',
    4,
    trials(2, 20),
    (file, random): Fault[] => {
      const pick = random();
      if (pick < 0.2) return [{ kind: 'hang' }];
      const bytes = between(random, 16 * KiB, file.size - 1);
      // 300 ms without bytes is well under the stall timeout: no retry must be needed.
      if (pick < 0.4) return [{ kind: 'stall-after', bytes, resumeAfterMs: 300 }];
      return [{ kind: 'stall-after', bytes }];
    },
    STALL_TIMEOUT_SECONDS,
  ),
);

// ---------------------------------------------------------------- persistent faults

const BASE_IDS = ['KB2001', 'KB2002'];
const NEW_IDS = ['KB2003', 'KB2004', 'KB2005'];
/** KB2005 needs KB2004: holding KB2004 back must hold KB2005 back too. */
const NEW_REQUIRES = { KB2005: ['KB2004'] };

interface PersistentTrial {
  rig: SyncRig;
  target: RigPatch;
  random: () => number;
  inv: Invariants;
  label: string;
}

/**
 * A published catalog from a clean sync of BASE, then a feed adding NEW where one new patch's
 * file keeps failing (`inject`). Checks the hold-back, the publication of the rest and the
 * store; `after` may check more (and run more syncs).
 */
async function persistentScenario(
  t: Test,
  scenario: string,
  scenarioSeed: number,
  count: number,
  inject: (trial: PersistentTrial) => void,
  after?: (trial: PersistentTrial, report: SyncReport) => Promise<void>,
): Promise<void> {
  const inv = new Invariants(t);
  let heldBackTotal = 0;
  for (let n = 0; n < count; n++) {
    const random = seededRandom(SEED + scenarioSeed * 1000 + n);
    const rig = await SyncRig.open({ retries: RETRIES });
    const label = `${scenario} #${n}`;
    try {
      const patches = makePatches(random, [...BASE_IDS, ...NEW_IDS], NEW_REQUIRES);
      const base = patches.filter((p) => BASE_IDS.includes(p.id));
      rig.serveFeed(1, base);
      const first = await rig.sync();
      inv.check(first.outcome === 'ok', `${label}: the clean first sync ends ok`, first);

      rig.serveFeed(2, patches);
      const targetId = NEW_IDS[between(random, 0, NEW_IDS.length - 1)];
      const target = patches.find((p) => p.id === targetId)!;
      const trial = { rig, target, random, inv, label };
      inject(trial);
      const report = await rig.sync();
      const expectHeld = target.id === 'KB2004' ? ['KB2004', 'KB2005'] : [target.id];
      heldBackTotal += report.heldBack.length;
      inv.check(report.outcome === 'partial', `${label}: the sync ends partial`, {
        outcome: report.outcome,
        error: report.error,
      });
      inv.check(
        sameSet(
          report.heldBack.map((h) => h.patchId),
          expectHeld,
        ),
        `${label}: the failing patch and its dependants are held back, nothing else`,
        { heldBack: report.heldBack, expectHeld },
      );
      inv.check(
        report.heldBack.every((h) => h.error.includes(target.file.name)),
        `${label}: each hold-back error names the file`,
        report.heldBack,
      );
      const published = await rig.publishedIds();
      inv.check(
        sameSet(
          published,
          patches.map((p) => p.id).filter((id) => !expectHeld.includes(id)),
        ),
        `${label}: the rest is published (old and new patches)`,
        { published },
      );
      await rig.checkStore(inv, label, new Set([target.file.sha256]));
      await after?.(trial, report);
    } finally {
      await rig.close();
    }
  }
  inv.record({
    suite: SUITE,
    scenario,
    trials: count,
    note: `${heldBackTotal} patches held back`,
  });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

t.test('corrupt bytes under a correct length', (t) =>
  persistentScenario(t, 'corrupt bytes', 11, trials(3, 20), ({ rig, target, random }) => {
    const offsets = Array.from({ length: between(random, 1, 3) }, () =>
      between(random, 0, target.file.size - 1),
    );
    rig.server.always(target.file.urlPath, { kind: 'corrupt', offsets });
  }),
);

t.test('Content-Length lies (more or fewer bytes than sent)', (t) =>
  persistentScenario(t, 'Content-Length lie', 12, trials(3, 20), ({ rig, target, random }) => {
    const delta = between(random, 1, 4 * KiB) * (random() < 0.5 ? -1 : 1);
    rig.server.always(target.file.urlPath, { kind: 'length-lie', announce: target.file.size + delta });
  }),
);

t.test('5xx (or cut answers) beyond the retry budget; the next sync resumes', (t) =>
  persistentScenario(
    t,
    '5xx beyond budget',
    13,
    trials(3, 20),
    ({ rig, target, random }) => {
      const path = target.file.urlPath;
      if (random() < 0.5) {
        rig.server.always(path, { kind: 'status', status: 503 });
        return;
      }
      // Every answer is cut after `bytes`: too little progress to finish within the budget.
      const bytes = between(random, 8 * KiB, Math.floor(target.file.size / (RETRIES + 2)));
      rig.server.always(path, { kind: 'close-after', bytes });
    },
    async ({ rig, target, inv, label }) => {
      const path = target.file.urlPath;
      inv.check(
        rig.requestsThisSync(path).length === RETRIES + 1,
        `${label}: a persistently failing file is asked for exactly retries + 1 times`,
        { requests: rig.requestsThisSync(path).length },
      );
      const keptBytes = rig.requestsThisSync(path).reduce((sum, r) => sum + r.bodyBytes, 0);
      // The next sync, upstream healthy again: it resumes what the failed one fetched.
      rig.server.always(path, null);
      const report = await rig.sync();
      inv.check(report.outcome === 'ok', `${label}: the next sync ends ok once upstream recovers`, report);
      await rig.checkStore(inv, `${label} (recovered)`, new Set());
      const requests = rig.requestsThisSync(path);
      const sentNow = requests.reduce((sum, r) => sum + r.bodyBytes, 0);
      if (keptBytes > 0) {
        inv.check(
          rangeStart(requests[0]!) > 0 && sentNow <= target.file.size - rangeStart(requests[0]!),
          `${label}: the next sync resumes the partial the failed sync kept`,
          { range: requests[0]?.headers.range, keptBytes, sentNow },
        );
      }
      inv.check((await rig.publishedIds()).includes(target.id), `${label}: the recovered patch is published`);
    },
  ),
);

t.test('file changed upstream between two requests (If-Range must notice)', (t) =>
  persistentScenario(
    t,
    'file changed upstream',
    14,
    trials(3, 20),
    ({ rig, target, random }) => {
      const path = target.file.urlPath;
      const bytes = between(random, 16 * KiB, target.file.size - 1);
      const file = changedFile(target.file, seededBytes(random, target.file.size));
      // Half the trials: an honest server (If-Range → 200 new body); half: one that splices.
      const change: Fault =
        random() < 0.5 ? { kind: 'replace', file } : { kind: 'replace-ignore-if-range', file };
      rig.server.queue(path, { kind: 'close-after', bytes }, change);
    },
    async ({ rig, target, inv, label }) => {
      const requests = rig.requestsThisSync(target.file.urlPath);
      const second = requests[1];
      inv.check(
        second !== undefined &&
          second.headers['if-range'] === `"${target.file.sha256.slice(0, 16)}-v1"` &&
          rangeStart(second) > 0,
        `${label}: the resume asked for the rest only if unchanged (Range + If-Range)`,
        { range: second?.headers.range, ifRange: second?.headers['if-range'] },
      );
      if (second?.fault === 'replace') {
        inv.check(second.status === 200, `${label}: the changed file came back whole (200)`, second.status);
      }
      inv.check(requests.length === 2, `${label}: a digest mismatch is final (no more requests)`, {
        requests: requests.length,
      });
    },
  ),
);

t.test('feed.json unavailable: the sync fails, the published catalog stays intact', async (t) => {
  const inv = new Invariants(t);
  const count = trials(2, 20);
  for (let n = 0; n < count; n++) {
    const random = seededRandom(SEED + 15_000 + n);
    const rig = await SyncRig.open({ retries: between(random, 0, 2) });
    const label = `feed unavailable #${n}`;
    try {
      const patches = makePatches(random, [...BASE_IDS, ...NEW_IDS], NEW_REQUIRES);
      rig.serveFeed(1, patches.slice(0, 2));
      const first = await rig.sync();
      inv.check(first.outcome === 'ok', `${label}: the clean first sync ends ok`, first);
      const before = await rig.catalogBytes();
      rig.serveFeed(2, patches);
      rig.server.always('/feed.json', { kind: 'status', status: [500, 502, 503][between(random, 0, 2)]! });
      const report = await rig.sync();
      inv.check(report.outcome === 'failed', `${label}: the sync fails`, report);
      inv.check(
        rig.requestsThisSync('/feed.json').length === rig.config.upstream.retries + 1,
        `${label}: feed.json is asked for retries + 1 times`,
      );
      const now = await rig.catalogBytes();
      inv.check(
        before !== undefined && now !== undefined && before.equals(now),
        `${label}: current.json is byte-for-byte the previous catalog`,
      );
      await rig.checkStore(inv, label, new Set());
    } finally {
      await rig.close();
    }
  }
  inv.record({ suite: SUITE, scenario: 'feed unavailable', trials: count });
});
