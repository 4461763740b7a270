// Replicas on PostgreSQL under faults (issue 16, docs/scale.md "Failover"): two real
// `patchbay-server serve` processes on one data directory and one throwaway PostgreSQL, with
// hosts reporting as daemons do (each keeps its unacknowledged events and sends them again,
// to the other replica when one does not answer, as a load balancer would).
//
//   leader killed mid-sync: kill -9 of the leader while its sync is downloading from a slow
//     upstream; the other replica takes over and completes a sync; the metadata it serves
//     names no file it cannot serve, with the signed SHA-256;
//   replica killed mid-ingest: kill -9 of a replica while reports stream into it;
//   PostgreSQL restarted under load: every session cut while reports stream into both.
//
// Invariants: every event a replica acknowledged (2xx) is stored exactly once; every host's
// snapshot is stored; a leader exists again afterwards; published metadata never names a
// missing or wrong file.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { consistentTargetPath } from '@patchbay/core/tuf';
import { startPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/processes.js';
import { SAMPLE, writeSampleServeConfig } from '../../packages/staging-server/test/fixtures/sample-tuf.js';
import { report } from '../../packages/staging-server/test/fixtures/http-harness.js';
import { startServe, type Serving } from '../../packages/staging-server/test/fixtures/server-cli.js';
import { Invariants, seededRandom, SEED, trials } from './figures.js';

const SUITE = 'replica-faults';
const RETRY_SECONDS = 1;
const HOSTS = 24;

const cluster = await startPostgres(t);
const random = seededRandom(SEED);

interface Status {
  lastSync: { outcome: string; startedAt: string } | null;
  cluster: { replica: string; leader: boolean; database: string };
}

async function status(serving: Serving): Promise<Status> {
  const res = await fetch(`${serving.url}/v1/status`);
  if (!res.ok) throw new Error(`status ${res.status}`);
  return (await res.json()) as Status;
}

async function killed(serving: Serving): Promise<void> {
  serving.child.kill('SIGKILL');
  await serving.closed;
}

/** The sample TUF repository over HTTP, each target answered after `delayMs` (a slow upstream). */
async function slowUpstream(
  t: Test,
  delayMs: number,
): Promise<{ url: string; targetRequests: () => number }> {
  const root = path.join(SAMPLE, 'repository');
  let targetRequests = 0;
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, path.normalize(urlPath));
    if (!file.startsWith(root + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const send = () => {
      res.writeHead(200, { 'content-length': statSync(file).size });
      createReadStream(file).pipe(res);
    };
    if (urlPath.startsWith('/targets/')) {
      targetRequests += 1;
      setTimeout(send, delayMs);
    } else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, targetRequests: () => targetRequests };
}

async function replicaConfig(t: Test, database: string, more: Record<string, unknown> = {}): Promise<string> {
  return writeSampleServeConfig(t.testdir(), 'server.json', database, {
    auth: { reportTokens: 'optional' },
    reports: { rateLimitPerMinute: 100_000 },
    cluster: { leaderRetrySeconds: RETRY_SECONDS },
    ...more,
  });
}

/**
 * Hosts that report as daemons do: each report carries the host's snapshot and every event
 * not yet acknowledged; a report that fails is sent again, to the next replica that answers.
 */
class Fleet {
  readonly acked = new Map<string, Set<number>>();
  private readonly pending = new Map<string, number[]>();
  private nextSeq = new Map<string, number>();
  failures = 0;
  /** HTTP statuses of the attempts that were not stored (a cut connection is not counted) */
  readonly refusals = new Map<number, number>();

  constructor(readonly hosts: number) {
    for (let i = 0; i < hosts; i++) {
      this.acked.set(this.hostId(i), new Set());
      this.pending.set(this.hostId(i), []);
      this.nextSeq.set(this.hostId(i), 1);
    }
  }

  hostId(i: number): string {
    return `host-${String(i).padStart(4, '0')}`;
  }

  private body(hostId: string, seqs: number[]): string {
    const now = new Date().toISOString();
    return JSON.stringify(
      report(hostId, {
        reportedAt: now,
        patches: [{ id: 'T5KB0001', state: seqs.length % 2 === 0 ? 'installed' : 'downloaded' }],
        events: seqs.map((seq) => ({ seq, type: 'check', at: now, outcome: 'ok' })),
      }),
    );
  }

  /** One report of host `i` with one new event, sent until a replica of `targets()` stores it. */
  async report(i: number, targets: () => string[], deadline: number): Promise<void> {
    const hostId = this.hostId(i);
    const seq = this.nextSeq.get(hostId)!;
    this.nextSeq.set(hostId, seq + 1);
    const pending = this.pending.get(hostId)!;
    pending.push(seq);
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const bases = targets();
      const base = bases[attempt % bases.length]!;
      const seqs = [...pending];
      try {
        const res = await fetch(`${base}/v1/clients/${hostId}/report`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: this.body(hostId, seqs),
        });
        const answer = await res.text();
        // A refusal of the report itself is a defect of this test, not a fault to ride out.
        if (res.status >= 400 && res.status < 500) throw new Error(`${hostId}: ${res.status} ${answer}`);
        if (!res.ok) this.refusals.set(res.status, (this.refusals.get(res.status) ?? 0) + 1);
        if (res.ok) {
          for (const s of seqs) this.acked.get(hostId)!.add(s);
          this.pending.set(
            hostId,
            this.pending.get(hostId)!.filter((s) => !seqs.includes(s)),
          );
          return;
        }
      } catch (err) {
        // connection refused or reset: the replica is gone; the next attempt tries another
        if (err instanceof Error && err.message.startsWith(`${hostId}: `)) throw err;
      }
      this.failures += 1;
      await new Promise((resolve) => setTimeout(resolve, 50 + 50 * Math.min(attempt, 10)));
    }
    throw new Error(`${hostId}: report seq ${seq} not stored before the deadline`);
  }

  /**
   * Every host reports `rounds` times, each host on its own (as daemons are: never in step),
   * all hosts at once; `during(n)` after each stored report.
   */
  async run(
    rounds: number,
    targets: () => string[],
    during: (reportsDone: number) => Promise<void> | void = () => undefined,
  ): Promise<void> {
    const deadline = Date.now() + 120_000;
    let done = 0;
    await Promise.all(
      Array.from({ length: this.hosts }, async (_, i) => {
        for (let round = 0; round < rounds; round++) {
          await this.report(i, targets, deadline);
          done += 1;
          await during(done);
        }
      }),
    );
  }

  ackedEvents(): number {
    return [...this.acked.values()].reduce((n, s) => n + s.size, 0);
  }
}

/** Check in the database that every acknowledged event is stored once and every host is known. */
async function checkStored(inv: Invariants, fleet: Fleet, databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ host_id: string; seq: string; n: string }>(
      'SELECT host_id, seq, count(*) AS n FROM reports.events GROUP BY host_id, seq',
    );
    const stored = new Map<string, number>();
    for (const row of rows) stored.set(`${row.host_id}#${row.seq}`, Number(row.n));
    for (const [hostId, seqs] of fleet.acked)
      for (const seq of seqs) {
        const n = stored.get(`${hostId}#${seq}`) ?? 0;
        inv.check(n === 1, 'every acknowledged event is stored exactly once', { hostId, seq, stored: n });
      }
    const clients = await client.query<{ n: string }>('SELECT count(*) AS n FROM reports.clients');
    inv.check(Number(clients.rows[0]!.n) === fleet.hosts, 'every host that reported is stored', {
      clients: clients.rows[0]!.n,
      hosts: fleet.hosts,
    });
  } finally {
    await client.end();
  }
}

/** The replica that leads once one does (within the documented bound, generously). */
async function leaderOf(replicas: Serving[]): Promise<Serving> {
  return waitFor(
    'a leader',
    async () => {
      for (const r of replicas) {
        const s = await status(r).catch(() => null);
        if (s?.cluster.leader) return r;
      }
      return undefined;
    },
    30_000,
  );
}

/** Every target the served metadata names is served, with the signed SHA-256. */
async function checkPublished(inv: Invariants, base: string): Promise<number> {
  const json = async (name: string) =>
    (await (await fetch(`${base}/v1/tuf/metadata/${name}`)).json()) as {
      signed: Record<string, unknown>;
    };
  const timestamp = (await json('timestamp.json')).signed as {
    meta: Record<string, { version: number }>;
  };
  const snapshot = (await json(`${timestamp.meta['snapshot.json']!.version}.snapshot.json`)).signed as {
    meta: Record<string, { version: number }>;
  };
  let checked = 0;
  for (const [file, meta] of Object.entries(snapshot.meta)) {
    const role = file.slice(0, -'.json'.length);
    const roleMetadata = (await json(`${meta.version}.${encodeURIComponent(role)}.json`)).signed as {
      targets: Record<string, { hashes: { sha256: string } }>;
    };
    for (const [target, info] of Object.entries(roleMetadata.targets)) {
      const res = await fetch(`${base}/v1/tuf/targets/${consistentTargetPath(target, info.hashes.sha256)}`);
      const body = Buffer.from(await res.arrayBuffer());
      const digest = createHash('sha256').update(body).digest('hex');
      inv.check(
        res.status === 200 && digest === info.hashes.sha256,
        'published metadata names only files served with their signed SHA-256',
        { target, status: res.status },
      );
      checked += 1;
    }
  }
  return checked;
}

t.test('leader killed mid-sync', { skip: !cluster }, async (t) => {
  const inv = new Invariants(t);
  const count = trials(1, 3);
  for (let trial = 0; trial < count; trial++) {
    const database = await cluster!.createDatabase(`midsync_${trial}`);
    const upstream = await slowUpstream(t, 100);
    const config = await replicaConfig(t, database, {
      upstream: {
        url: upstream.url,
        trustedRoot: path.join(SAMPLE, 'repository/metadata/1.root.json'),
        retries: 0,
      },
    });
    const a = await startServe(t, config);
    await waitFor('the first replica to lead', async () => (await status(a)).cluster.leader);
    const b = await startServe(t, config);
    // Kill once the sync is fetching targets: a few requests in, at a seeded point.
    const killAfter = 1 + Math.floor(random() * 6);
    await waitFor('the sync to be downloading', async () => upstream.targetRequests() >= killAfter);
    await killed(a);
    const leader = await leaderOf([b]);
    inv.check(leader === b, 'the surviving replica takes over');
    const synced = await waitFor(
      'the new leader to finish a sync',
      async () => {
        const s = await status(b);
        return s.lastSync?.outcome === 'ok' && s.lastSync;
      },
      60_000,
    );
    inv.check(synced.outcome === 'ok', "the new leader's sync completes");
    const targets = await checkPublished(inv, b.url);
    inv.check(targets > 0, 'the metadata names targets', { targets });
    // The killed replica comes back as a follower and serves the same bytes.
    const again = await startServe(t, config);
    const [fromB, fromA] = await Promise.all(
      [b, again].map(async (r) =>
        Buffer.from(await (await fetch(`${r.url}/v1/tuf/metadata/timestamp.json`)).arrayBuffer()),
      ),
    );
    inv.check(fromA!.equals(fromB!), 'the restarted replica serves the same timestamp.json bytes');
    await killed(again);
    await killed(b);
  }
  inv.record({ suite: SUITE, scenario: 'leader killed mid-sync', trials: count });
});

t.test('replica killed mid-ingest', { skip: !cluster }, async (t) => {
  const inv = new Invariants(t);
  const count = trials(1, 3);
  const fleets: Fleet[] = [];
  for (let trial = 0; trial < count; trial++) {
    const database = await cluster!.createDatabase(`midingest_${trial}`);
    const config = await replicaConfig(t, database);
    const a = await startServe(t, config);
    const b = await startServe(t, config);
    const fleet = new Fleet(HOSTS);
    fleets.push(fleet);
    let alive = [b.url, a.url];
    const killAt = Math.floor(HOSTS / 2 + random() * HOSTS);
    let wasKilled = false;
    await fleet.run(
      3,
      () => alive,
      async (done) => {
        if (!wasKilled && done >= killAt) {
          wasKilled = true;
          b.child.kill('SIGKILL');
          alive = [a.url];
        }
      },
    );
    inv.check(wasKilled, 'the replica was killed while reports streamed in');
    await checkStored(inv, fleet, database);
    await leaderOf([a]);
    await killed(a);
    await b.closed;
  }
  const resent = fleets.reduce((n, f) => n + f.failures, 0);
  inv.record({
    suite: SUITE,
    scenario: 'replica killed mid-ingest',
    trials: count,
    note: `${resent} reports sent again after a refused or cut attempt`,
  });
});

t.test('PostgreSQL restarted under load', { skip: !cluster }, async (t) => {
  const inv = new Invariants(t);
  const count = trials(1, 3);
  const fleets: Fleet[] = [];
  for (let trial = 0; trial < count; trial++) {
    const database = await cluster!.createDatabase(`pgrestart_${trial}`);
    const config = await replicaConfig(t, database);
    const a = await startServe(t, config);
    const b = await startServe(t, config);
    const fleet = new Fleet(HOSTS);
    fleets.push(fleet);
    const restartAt = Math.floor(HOSTS / 2 + random() * HOSTS);
    let restarting: Promise<void> | undefined;
    await fleet.run(
      3,
      () => [a.url, b.url],
      (done) => {
        if (!restarting && done >= restartAt) restarting = cluster!.restart();
      },
    );
    await restarting;
    inv.check(restarting !== undefined, 'PostgreSQL was restarted while reports streamed in');
    const refusals = Object.fromEntries(fleet.refusals);
    inv.check(
      [...fleet.refusals.keys()].every((status) => status === 503),
      'a report refused while PostgreSQL is away is 503 (send again), never 500',
      { refusals },
    );
    await checkStored(inv, fleet, database);
    const leader = await leaderOf([a, b]);
    inv.check([a, b].includes(leader), 'a leader is elected again after the restart');
    for (const r of [a, b])
      inv.check((await fetch(`${r.url}/v1/status`)).status === 200, 'both replicas answer after the restart');
    await killed(a);
    await killed(b);
  }
  const resent = fleets.reduce((n, f) => n + f.failures, 0);
  inv.record({
    suite: SUITE,
    scenario: 'PostgreSQL restarted under load',
    trials: count,
    note: `${resent} reports sent again after a refused or cut attempt`,
  });
});
