// Client crash consistency (issue 5): the real patchbay-client installing the sample feed's
// critical patches (plus a slow one) from a real staging server, through a throttling proxy,
// SIGKILLed at each named failpoint and at seeded random moments of download, install and
// report delivery. After each kill the next run must complete, and:
//   - the ledger never claims `installed` for an install that did not finish;
//   - no event the ledger recorded is lost, and the server holds each (hostId, seq) once;
//   - the cache holds no unverified blob; partials resume (not from zero) or are cleaned;
//   - the host ends with the intended patches installed, as the sandbox itself says.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { BIN, run, runJson } from '../helpers/processes.js';
import { startStack } from '../helpers/stack.js';
import type { ClientHandle, Stack } from '../helpers/stack.js';
import { FULL, Invariants, SEED, seededRandom, trials } from './figures.js';
import {
  SLOW_PATCH,
  addSlowPatch,
  atomicTemps,
  downloadEventBytes,
  markerExists,
  readCache,
  readLedger,
  serverCatalog,
  startThrottleProxy,
  verifiedMetadataMarker,
} from './client-crash-rig.js';
import type { ThrottleProxy } from './client-crash-rig.js';

const SUITE = 'client-crash';
/** every crash point the client has (packages/core/src/failpoint.ts lists them) */
const FAILPOINTS = [
  'download:mid-body',
  'download:before-commit',
  'download:before-event',
  'install:before-run',
  'install:while-running',
  'install:after-run',
  'install:after-ledger',
  'report:before-send',
  'report:after-response',
] as const;
const QUICK_FAILPOINTS = [`install:while-running:${SLOW_PATCH}`, 'report:after-response'];

/** Round 0 arms each point by name (its first hit); round 1 the slow patch's own, where it has one. */
function failpointsForRound(round: number): string[] {
  if (!FULL) return QUICK_FAILPOINTS;
  return FAILPOINTS.map((p) => (round === 1 && !p.startsWith('report:') ? `${p}:${SLOW_PATCH}` : p));
}
/** responses through the proxy at this rate: the 1 MB files take about half a second */
const PROXY_BYTES_PER_SECOND = 2_000_000;
const SLOW_INSTALL_SECONDS = 0.8;
/** at install:while-running the orphaned installer outlives the next run's start by far */
const SURVIVOR_INSTALL_SECONDS = 12;
const SLOW_PAYLOAD_BYTES = 1_500_000;

interface ServerEvent {
  hostId: string;
  seq: number;
  type: string;
  patchId: string | null;
  outcome: string;
}

interface Rig {
  stack: Stack;
  proxy: ThrottleProxy;
  intended: string[];
  /** wall time of an uninterrupted install --critical */
  referenceMs: number;
}

interface Figures {
  trials: number;
  killed: number;
  resumedBytes: number;
  partialFileBytes: number;
}

let clientCount = 0;

function newClient(rig: Rig, label: string): ClientHandle {
  clientCount += 1;
  return rig.stack.writeClientConfig(`c${clientCount}-${label}`, '19.0', {
    server: rig.proxy.url,
    retries: 2,
    timeoutSeconds: 15,
    policy: { autoInstall: 'critical' },
  });
}

/**
 * Run `install --critical`; SIGKILL it `killAfterMs` after it fetched and verified the TUF
 * metadata, its catalog (the downloads, installs and reports come after; the program's start is
 * slow on a loaded host and not what is tested). `activeMs`: from the catalog to the exit.
 */
async function crashRun(
  client: ClientHandle,
  opts: { failpoint?: string; killAfterMs?: number },
): Promise<{ killed: boolean; stderr: string; code: number | null; activeMs: number }> {
  const child = spawn(
    process.execPath,
    [BIN.client, '--config', client.config, 'install', '--critical', '--json'],
    {
      env: {
        ...process.env,
        PATCHBAY_LOG_LEVEL: 'warn',
        ...(opts.failpoint ? { PATCHBAY_FAILPOINTS: opts.failpoint } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const catalog = verifiedMetadataMarker(client.dataDir);
  let activeFrom = Date.now();
  let killer: NodeJS.Timeout | undefined;
  const poller = setInterval(() => {
    if (!fs.existsSync(catalog)) return;
    clearInterval(poller);
    activeFrom = Date.now();
    if (opts.killAfterMs !== undefined) killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
  }, 10);
  const [code, signal] = await exited;
  const activeMs = Date.now() - activeFrom;
  clearInterval(poller);
  clearTimeout(killer);
  clearTimeout(guard);
  return { killed: signal === 'SIGKILL', stderr, code, activeMs };
}

async function patchSizes(rig: Rig): Promise<Map<string, { size: number; digests: string[] }>> {
  const catalog = await serverCatalog(rig.stack);
  return new Map(
    catalog.patches.map((p) => [
      p.id,
      { size: p.files.reduce((n, f) => n + f.size, 0), digests: p.files.map((f) => f.sha256) },
    ]),
  );
}

async function serverEvents(rig: Rig, hostId: string): Promise<ServerEvent[]> {
  const doc = await rig.stack.getJson<{ events: ServerEvent[] } | ServerEvent[]>(
    `/v1/reports/history?host=${encodeURIComponent(hostId)}&limit=10000`,
  );
  return Array.isArray(doc) ? doc : doc.events;
}

/** One trial: crash, look at what the crash left, run again, check the end state. */
async function trial(
  rig: Rig,
  inv: Invariants,
  figures: Figures,
  label: string,
  kill: { failpoint?: string; killAfterMs?: number },
  recovery: 'install' | 'run-once',
): Promise<void> {
  const client = newClient(rig, label.replace(/[^a-z0-9]+/gi, '-'));
  if (kill.failpoint?.startsWith('install:while-running')) {
    fs.writeFileSync(path.join(client.installDir, '.slow-seconds'), `${SURVIVOR_INSTALL_SECONDS}\n`);
  }
  const crash = await crashRun(client, kill);
  figures.trials += 1;
  if (crash.killed) figures.killed += 1;
  const where = { trial: label, killed: crash.killed };

  // what the crash left
  const crashLedger = readLedger(client.dataDir);
  const crashCache = readCache(client.dataDir);
  inv.check(
    crashCache.badBlobs.length === 0,
    'cache: no unverified file under a blob name (after the kill)',
    {
      ...where,
      bad: crashCache.badBlobs,
    },
  );
  const falseClaims = Object.entries(crashLedger?.patches ?? {})
    .filter(([id, p]) => p.state === 'installed' && !markerExists(client.installDir, id))
    .map(([id]) => id);
  inv.check(falseClaims.length === 0, 'ledger: never `installed` for an install that did not finish', {
    ...where,
    falseClaims,
  });
  const crashEvents = crashLedger?.events ?? [];
  const crashMaxSeq = crashEvents.reduce((n, e) => Math.max(n, e.seq), 0);

  // the next run
  const next =
    recovery === 'install'
      ? await run(BIN.client, ['--config', client.config, 'install', '--critical', '--json'])
      : await run(BIN.client, ['--config', client.config, 'run', '--once']);
  inv.check(next.code === 0, 'the next run completes (exit 0)', {
    ...where,
    recovery,
    code: next.code,
    stderr: next.stderr.slice(-2000),
    crashStderr: crash.stderr.slice(-1000),
  });

  // the end state: intended patches installed; the states the client reports (what `status`
  // prints: the ledger's observed states) agree with the sandbox install dir
  const endLedger = readLedger(client.dataDir);
  const states = new Map(Object.entries(endLedger?.observed ?? {}).map(([id, o]) => [id, o.state]));
  const missing = rig.intended.filter(
    (id) => states.get(id) !== 'installed' || !markerExists(client.installDir, id),
  );
  inv.check(missing.length === 0, 'the host ends with the intended patches installed', {
    ...where,
    missing,
    states: Object.fromEntries(states),
  });
  const disagree = [...states]
    .filter(([id, state]) => (state === 'installed') !== markerExists(client.installDir, id))
    .map(([id, state]) => `${id}:${state}`);
  inv.check(disagree.length === 0, 'reported states equal what the sandbox install dir says', {
    ...where,
    disagree,
  });
  const endClaims = Object.entries(endLedger?.patches ?? {})
    .filter(([id, p]) => p.state === 'installed' && !markerExists(client.installDir, id))
    .map(([id]) => id);
  inv.check(endClaims.length === 0, 'ledger: never `installed` for an install that did not finish', {
    ...where,
    endClaims,
  });

  // the cache: verified blobs only, no scratch left, partials resumed rather than refetched
  const endCache = readCache(client.dataDir);
  inv.check(
    endCache.badBlobs.length === 0,
    'cache: no unverified file under a blob name (after the next run)',
    {
      ...where,
      bad: endCache.badBlobs,
    },
  );
  inv.check(endCache.tmpFiles.length === 0, 'cache: no partial or temp file outlives the next run', {
    ...where,
    tmp: endCache.tmpFiles,
  });
  const temps = atomicTemps(client.dataDir);
  inv.check(temps.length === 0, 'data dir: no atomic-write temp file outlives the next run', {
    ...where,
    temps,
  });
  if (crashCache.partials.size > 0) {
    const sizes = await patchSizes(rig);
    const laterDownloads = (endLedger?.events ?? []).filter(
      (e) => e.seq > crashMaxSeq && e.type === 'download' && e.outcome === 'ok',
    );
    for (const [patchId, { size, digests }] of sizes) {
      const partialBytes = digests.reduce((n, d) => n + (crashCache.partials.get(d) ?? 0), 0);
      if (partialBytes === 0) continue;
      const fetched = laterDownloads
        .filter((e) => e.patchId === patchId)
        .reduce((n, e) => n + downloadEventBytes(e), 0);
      figures.resumedBytes += fetched;
      figures.partialFileBytes += size;
      inv.check(fetched <= size - partialBytes, 'a partial download resumes (not from zero)', {
        ...where,
        patchId,
        size,
        partialBytes,
        fetched,
      });
    }
  }

  // events: none the ledger recorded is lost, all reach the server, none counted twice
  // (what `history --json` prints: the ledger's events, reported when seq <= lastAckedSeq)
  const endEvents = endLedger?.events ?? [];
  const clientBySeq = new Map(endEvents.map((e) => [e.seq, e]));
  const lost = crashEvents
    .filter((e) => {
      const now = clientBySeq.get(e.seq);
      return !now || now.type !== e.type || now.patchId !== e.patchId || now.at !== e.at;
    })
    .map((e) => e.seq);
  inv.check(lost.length === 0, 'events: none the ledger recorded before the kill is lost or replaced', {
    ...where,
    lost,
  });
  const unreported = endEvents.filter((e) => e.seq > (endLedger?.lastAckedSeq ?? 0)).map((e) => e.seq);
  inv.check(unreported.length === 0, 'events: every queued event is delivered by the next run', {
    ...where,
    unreported,
  });
  if (figures.trials % 4 === 1) {
    // now and then through the CLI itself: `history --json` is the ledger's events
    const history = await runJson<{ events: { seq: number; reported: boolean }[] }>(BIN.client, [
      '--config',
      client.config,
      'history',
    ]);
    const printed = history.json.events.map((e) => `${e.seq}:${e.reported}`).join(' ');
    const expected = endEvents.map((e) => `${e.seq}:${e.seq <= (endLedger?.lastAckedSeq ?? 0)}`).join(' ');
    inv.check(printed === expected, 'history --json lists the ledger’s events, all reported', {
      ...where,
      printed,
      expected,
    });
  }
  const onServer = await serverEvents(rig, client.hostId);
  const seen = new Map<number, number>();
  for (const e of onServer) seen.set(e.seq, (seen.get(e.seq) ?? 0) + 1);
  const doubled = [...seen].filter(([, n]) => n > 1).map(([seq]) => seq);
  inv.check(doubled.length === 0, 'server: each (hostId, seq) counted once', { ...where, doubled });
  const notOnServer = endEvents.filter((e) => !seen.has(e.seq)).map((e) => e.seq);
  inv.check(notOnServer.length === 0, 'server: every event the client recorded arrived', {
    ...where,
    notOnServer,
  });
  const mismatched = onServer
    .filter((e) => {
      const mine = clientBySeq.get(e.seq);
      return (
        !mine ||
        mine.type !== e.type ||
        (mine.patchId ?? null) !== (e.patchId ?? null) ||
        mine.outcome !== e.outcome
      );
    })
    .map((e) => e.seq);
  inv.check(mismatched.length === 0, 'server: its events are the client’s, seq for seq', {
    ...where,
    mismatched,
  });
}

async function setUp(t: Test): Promise<Rig> {
  const stack = await startStack(t.testdir(), { releases: ['19.0'] });
  t.teardown(() => stack.stop());
  await addSlowPatch(stack, SLOW_INSTALL_SECONDS, SLOW_PAYLOAD_BYTES);
  const proxy = await startThrottleProxy(stack.server.url, PROXY_BYTES_PER_SECOND);
  t.teardown(() => proxy.close());
  const rig: Rig = { stack, proxy, intended: [], referenceMs: 0 };
  // an uninterrupted run: what "the intended patches" are, and how long its work takes
  const reference = newClient(rig, 'reference');
  const res = await crashRun(reference, {});
  rig.referenceMs = res.activeMs;
  if (res.code !== 0) throw new Error(`reference install failed: ${res.stderr}`);
  const ledger = readLedger(reference.dataDir);
  rig.intended = Object.entries(ledger?.patches ?? {})
    .filter(([, p]) => p.state === 'installed')
    .map(([id]) => id)
    .sort();
  if (!rig.intended.includes(SLOW_PATCH)) throw new Error(`${SLOW_PATCH} was not installed: ${res.stderr}`);
  return rig;
}

t.test('client SIGKILLed during download, install and report delivery', async (t) => {
  const rig = await setUp(t);
  t.comment(`reference install --critical: ${rig.referenceMs} ms of work, ${rig.intended.join(' ')}`);

  await t.test('at each named failpoint', async (t) => {
    const inv = new Invariants(t);
    const figures: Figures = { trials: 0, killed: 0, resumedBytes: 0, partialFileBytes: 0 };
    const rounds = trials(1, 2);
    for (let round = 0; round < rounds; round += 1) {
      const points = failpointsForRound(round);
      for (const point of points) {
        const recovery = (round + points.indexOf(point)) % 2 === 0 ? 'install' : 'run-once';
        await trial(rig, inv, figures, `${point} #${round}`, { failpoint: point }, recovery);
      }
    }
    inv.check(figures.killed === figures.trials, 'every failpoint was reached', figures);
    inv.record({
      suite: SUITE,
      scenario: 'client SIGKILL at named failpoints',
      trials: figures.trials,
      bytesFetched: figures.resumedBytes,
      fileBytes: figures.partialFileBytes,
      note: `${failpointsForRound(0).length} failpoints x ${rounds}; next run install --critical or run --once`,
    });
  });

  await t.test('at seeded random moments', async (t) => {
    const inv = new Invariants(t);
    const figures: Figures = { trials: 0, killed: 0, resumedBytes: 0, partialFileBytes: 0 };
    const random = seededRandom(SEED ^ 0xc11e47);
    const count = trials(1, 40);
    for (let i = 0; i < count; i += 1) {
      const killAfterMs = Math.round(random() * rig.referenceMs);
      const recovery = random() < 0.5 ? 'install' : 'run-once';
      await trial(rig, inv, figures, `random #${i} at ${killAfterMs} ms`, { killAfterMs }, recovery);
    }
    inv.record({
      suite: SUITE,
      scenario: 'client SIGKILL at random moments',
      trials: figures.trials,
      bytesFetched: figures.resumedBytes,
      fileBytes: figures.partialFileBytes,
      note: `${figures.killed} killed mid-run (at 0..${rig.referenceMs} ms after the catalog; seed ${SEED})`,
    });
  });
});
