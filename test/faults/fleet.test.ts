// Fleets (issue 5): one real staging server, a simulated fleet of hosts in a worker process
// (fleet-worker.mjs) polling, verifying, downloading and reporting over a bounded loopback
// connection pool, while this test advances the upstream feed and has the server sync and
// publish several times. Invariants: no request fails, a client never sees a catalog naming a
// missing blob, no report is lost or counted twice.
//
// Reports use `auth.reportTokens: 'required'` — the production setting, so every PUT goes
// through the token check — with the hosts enrolled in-process through TokenStore, the very
// code `patchbay-server enroll` runs: 1,000 CLI processes would take minutes, the store takes
// well under a second, and the server sees the tokens exactly as after `enroll` (it looks
// tokens up per request in the shared WAL database).
import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetch } from 'undici';
import { SqliteTokenStore } from '../../packages/staging-server/dist/auth/sqlite-token-store.js';
import { waitFor } from '../helpers/processes.js';
import type { StatusDocument } from '../helpers/stack.js';
import { FLEET_PATCH_PREFIX, writeFleetPublication } from './fleet-feed.js';
import { startFleetStack, type FleetStack } from './fleet-stack.js';
import { FULL, Invariants, SEED, trials } from './figures.js';
import type { FleetResult } from './fleet-types.js';

const HOSTS = trials(200, 1000);
const PUBLICATIONS = trials(3, 6);
const MIN_ROUNDS = trials(4, 6);
/** generous: the worker needs only PUBLICATIONS + 1 rounds to let every publication happen */
const MAX_ROUNDS = MIN_ROUNDS + 2 * PUBLICATIONS + 8;
/** sockets in the worker's pool, and hosts working at once (their requests queue on the pool) */
const CONNECTIONS = 96;
const CONCURRENCY = 160;
/**
 * reports.rateLimitPerMinute: a host sends at most two report PUTs per round (a resend and the
 * new one), so 2 × (MAX_ROUNDS + 1) holds even if the whole run fell within one minute. The
 * default (60) is sized for real hosts that report every few hours; simulated ones report every
 * few seconds, so the budget is stated rather than left to happen to fit.
 */
const RATE_LIMIT = Math.max(60, 2 * (MAX_ROUNDS + 1));
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fleet-worker.mjs');
const ROUND_TIMEOUT_MS = 180_000;

interface WorkerHandle {
  child: ChildProcess;
  round: () => number;
  untilRound: (round: number) => Promise<void>;
  result: Promise<FleetResult>;
}

function startWorker(): WorkerHandle {
  // execArgv [] : the worker is plain JavaScript, it needs none of tap's TypeScript hooks
  const child = fork(WORKER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let round = 0;
  let settle: { resolve: (r: FleetResult) => void; reject: (e: Error) => void } | undefined;
  const result = new Promise<FleetResult>((resolve, reject) => (settle = { resolve, reject }));
  child.on('message', (message: { type: string; round?: number; result?: FleetResult; error?: string }) => {
    if (message.type === 'round') round = message.round ?? round;
    else if (message.type === 'result' && message.result) settle?.resolve(message.result);
    else if (message.type === 'crash') settle?.reject(new Error(`fleet worker crashed: ${message.error}`));
  });
  child.on('exit', (code, signal) =>
    settle?.reject(new Error(`fleet worker exited (${code ?? signal}) before sending its result`)),
  );
  return {
    child,
    round: () => round,
    result,
    untilRound: (target) =>
      waitFor(`fleet round ${target}`, async () => round >= target, ROUND_TIMEOUT_MS).then(() => undefined),
  };
}

async function catalogEtag(
  stack: FleetStack,
): Promise<{ etag: string; sequence: number; patchIds: string[] }> {
  const res = await fetch(`${stack.server.url}/v1/catalog`);
  if (res.status !== 200) throw new Error(`GET /v1/catalog: HTTP ${res.status}`);
  const catalog = (await res.json()) as { sequence: number; patches: { id: string }[] };
  return {
    etag: res.headers.get('etag') ?? '',
    sequence: catalog.sequence,
    patchIds: catalog.patches.map((p) => p.id),
  };
}

interface HistoryEvent {
  hostId: string;
  seq: number;
}

/** Every stored event, following the history's Link: rel="next" pages. */
async function allEvents(stack: FleetStack): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let next: string | null = '/v1/reports/history?limit=10000';
  while (next !== null) {
    const res = await fetch(`${stack.server.url}${next}`);
    if (res.status !== 200) throw new Error(`GET ${next}: HTTP ${res.status} ${await res.text()}`);
    events.push(...((await res.json()) as HistoryEvent[]));
    next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
  }
  return events;
}

/** CPU seconds a process has used so far (Linux /proc; null elsewhere). */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) "
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Error-level lines (pino level >= 50) in the server's stderr. */
function serverErrors(stderr: string): string[] {
  return stderr.split('\n').filter((line) => {
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

t.test(`fleet: ${HOSTS} hosts poll, download and report while syncs publish`, async (t) => {
  const inv = new Invariants(t);
  const dir = t.testdir();
  const stack = await startFleetStack(t, dir, {
    auth: { reportTokens: 'required' },
    reports: { rateLimitPerMinute: RATE_LIMIT },
  });

  const store = SqliteTokenStore.open(stack.dataDir);
  const hosts: { hostId: string; token: string }[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const hostId = `fleet-${String(i + 1).padStart(4, '0')}`;
    hosts.push({ hostId, token: await store.enroll(hostId) });
  }
  await store.close();

  const initial = await catalogEtag(stack);
  const serverCpuBefore = cpuSeconds(stack.server.child.pid);
  const published = [initial.etag];

  const worker = startWorker();
  t.teardown(() => {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  });
  worker.child.send({
    type: 'start',
    options: {
      baseUrl: stack.server.url,
      hosts,
      seed: SEED,
      connections: CONNECTIONS,
      concurrency: CONCURRENCY,
      minRounds: MIN_ROUNDS,
      maxRounds: MAX_ROUNDS,
      newPatchPrefix: FLEET_PATCH_PREFIX,
    },
  });
  // fail fast instead of waiting out round timeouts when the worker dies
  const crashed = worker.result.then(
    () => undefined,
    (err: unknown) => err as Error,
  );

  // Publish while the fleet runs: each publication starts at a round boundary and the next
  // waits until the fleet has begun another round, so every catalog meets traffic.
  await worker.untilRound(1);
  let sequence = initial.sequence;
  for (let n = 1; n <= PUBLICATIONS; n++) {
    const publication = await writeFleetPublication(stack.feedDir, n, SEED);
    const sync = await stack.syncNow();
    inv.check(
      sync.outcome === 'ok' && sync.upstreamSequence === publication.sequence,
      'a sync during fleet traffic publishes the new feed',
      { sync, publication },
    );
    const current = await catalogEtag(stack);
    inv.check(
      current.sequence > sequence && current.patchIds.includes(publication.newPatchId),
      'the published catalog is the new one',
      { had: sequence, now: current.sequence, newPatch: publication.newPatchId },
    );
    sequence = current.sequence;
    published.push(current.etag);
    const round = worker.round();
    const next = await Promise.race([worker.untilRound(round + 1), crashed]);
    if (next instanceof Error) throw next;
  }
  const finalEtag = published.at(-1);
  worker.child.send({ type: 'final', etag: finalEtag });
  const result = await worker.result;
  const serverCpuAfter = cpuSeconds(stack.server.child.pid);
  const serverCpu =
    serverCpuBefore !== null && serverCpuAfter !== null ? (serverCpuAfter - serverCpuBefore).toFixed(1) : '?';

  // No request fails: every answer was the expected 200/206/304.
  const errorCount = Object.values(result.errors).reduce((a, b) => a + b, 0);
  inv.check(errorCount === 0, 'no request of the fleet fails', {
    errors: result.errors,
    samples: result.errorSamples,
  });

  // The worker's own checks (signature, blob HEAD and hashes, sequences, accepted counts):
  // passes are added to the count, each violated invariant fails with its samples.
  const violated = Object.values(result.violations).reduce((a, b) => a + b, 0);
  inv.checked += result.checks - violated;
  for (const [invariant, count] of Object.entries(result.violations)) {
    for (let i = 0; i < count; i++)
      inv.check(false, invariant, {
        samples: result.violationSamples.filter((s) => s.invariant === invariant),
      });
  }

  // A client never sees a catalog naming a missing blob: each catalog ETag the fleet saw was
  // published by the server and had all its blobs HEADed (200) when first seen.
  for (const seen of result.seen) {
    inv.check(published.includes(seen.etag), 'the fleet sees only catalogs the server published', seen);
    inv.check(
      seen.headChecked >= seen.blobs,
      'every blob of each newly seen catalog was checked at first sight',
      seen,
    );
  }
  inv.check(
    result.seen.some((s) => s.etag === initial.etag) && result.seen.some((s) => s.etag === finalEtag),
    'the fleet saw the catalog change during the run',
    { seen: result.seen.length, published: published.length },
  );

  // No report is lost or doubled: the server holds each host's events exactly once.
  const events = await allEvents(stack);
  const perHost = new Map<string, Set<number>>();
  let duplicates = 0;
  for (const event of events) {
    const seqs = perHost.get(event.hostId) ?? new Set<number>();
    if (seqs.has(event.seq)) duplicates += 1;
    seqs.add(event.seq);
    perHost.set(event.hostId, seqs);
  }
  inv.check(duplicates === 0, 'no (host, seq) event is stored twice', { duplicates });
  let sentUnique = 0;
  let accepted = 0;
  for (const host of result.hosts) {
    sentUnique += host.sentUnique;
    accepted += host.accepted;
    // seqs are distinct integers from 1: as many as sent, none above the last, is exactly 1..last
    const stored = perHost.get(host.hostId) ?? new Set<number>();
    const highest = Math.max(0, ...stored);
    inv.check(
      stored.size === host.sentUnique && highest === host.lastSeq && host.lastSeq === host.sentUnique,
      'the server holds every event a host sent, once (no report lost)',
      { host: host.hostId, stored: stored.size, highest, sent: host.sentUnique },
    );
  }
  inv.check(accepted === sentUnique, "the server's accepted counts equal the events sent (resends once)", {
    accepted,
    sentUnique,
  });
  inv.check(events.length === sentUnique, 'the history holds exactly the events sent', {
    stored: events.length,
    sentUnique,
  });
  const clients = (await stack.getJson<unknown[]>('/v1/clients')).length;
  inv.check(clients === HOSTS, 'every host appears in /v1/clients', { clients, hosts: HOSTS });
  const status = await stack.getJson<StatusDocument>('/v1/status');
  inv.check(status.clients.total === HOSTS, '/v1/status counts every host', status.clients);
  const logged = serverErrors(stack.server.stderr());
  inv.check(logged.length === 0, 'the server logs no error during the run', logged.slice(0, 5));

  const requests = Object.entries(result.requests)
    .filter(([kind]) => !kind.startsWith('catalog '))
    .reduce((sum, [, n]) => sum + n, 0);
  const resends = result.hosts.reduce((sum, h) => sum + h.resends, 0);
  const overlaps = result.hosts.reduce((sum, h) => sum + h.overlaps, 0);
  t.comment(
    `fleet: ${HOSTS} hosts × ${result.rounds} rounds, ${requests} requests in ${(result.elapsedMs / 1000).toFixed(1)} s ` +
      `= ${Math.round(requests / (result.elapsedMs / 1000))} requests/s over ${CONNECTIONS} sockets ` +
      `(CPU: server ${serverCpu} s, fleet ${(result.cpuMs / 1000).toFixed(1)} s); ` +
      `${PUBLICATIONS} catalogs published, ${result.seen.length} distinct seen, ${result.sigRaces} signature races; ` +
      `${result.headChecks} blob HEADs, ${(result.blobBytes / 2 ** 20).toFixed(1)} MiB of blobs verified; ` +
      `${sentUnique} events, ${resends} resends, ${overlaps} overlapping reports; requests by kind ${JSON.stringify(result.requests)}` +
      (errorCount > 0 ? `; errors ${JSON.stringify(result.errors)}` : ''),
  );
  inv.record({
    suite: 'fleet',
    scenario: `${HOSTS} hosts poll, download, report while syncs publish`,
    trials: HOSTS * result.rounds,
    note:
      `${HOSTS} hosts × ${result.rounds} rounds, ${requests} requests, ${PUBLICATIONS} catalogs published ` +
      `(${result.seen.length} seen, ${result.sigRaces} sig races), ${resends} resends + ${overlaps} overlaps, ` +
      `${errorCount} failed requests${FULL ? '' : ', quick'}`,
  });
});
