// The fuzz run of issue 4: a few thousand seeded hostile requests against a real staging
// server over loopback — the report route, the blob route and the client-ID path
// parameter. Invariants: no 5xx, no crash, every 4xx in the contract's error shape, no
// blob route answering 2xx for anything but a known digest, and no file touched outside
// the server's data directory (nor an unexpected one inside it).
//
// PATCHBAY_FUZZ_SEED, PATCHBAY_FUZZ_COUNT and PATCHBAY_FUZZ_SECONDS override the defaults
// (a failure prints its seed, so the same run can be replayed).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { startStack } from './helpers/stack.js';
import {
  Rng,
  diffSnapshots,
  errorShapeProblem,
  generateRequest,
  sendRaw,
  snapshotTree,
  type RawRequest,
  type RawResponse,
} from './helpers/fuzz.js';

const SEED = Number(process.env.PATCHBAY_FUZZ_SEED ?? 20261124);
const COUNT = Number(process.env.PATCHBAY_FUZZ_COUNT ?? 3000);
const SECONDS = Number(process.env.PATCHBAY_FUZZ_SECONDS ?? 60);
const PARALLEL = 8;

/** Files the server may create inside its data dir while taking reports (SQLite journal files). */
const ALLOWED_NEW_IN_DATA_DIR = /(-wal|-shm|-journal)$/;

const describe = (req: RawRequest) =>
  `${req.method} ${JSON.stringify(req.rawPath.length > 200 ? `${req.rawPath.slice(0, 200)}…(${req.rawPath.length})` : req.rawPath)}`;

t.test(`fuzz: hostile requests to a real staging server (seed ${SEED})`, async (t) => {
  const root = t.testdir({
    // Canaries beside the stack: a traversal that writes or truncates "above" the data dir hits these.
    'canary.txt': 'untouched\n',
    outside: { 'canary.txt': 'untouched\n' },
  });
  const stackDir = path.join(root, 'stack');
  fs.mkdirSync(stackDir);
  const stack = await startStack(stackDir, {
    releases: ['19.0'],
    // the per-host rate limit would turn most of the run into 429s
    serverExtra: { reports: { rateLimitPerMinute: 100000 } },
  });
  t.teardown(stack.stop);
  const dataDir = path.join(stackDir, 'server-data');
  const { hostname, port } = new URL(stack.server.url);

  const catalog = await stack.getJson<{ patches: { files: { sha256: string }[] }[] }>('/v1/catalog');
  const knownDigests = [...new Set(catalog.patches.flatMap((p) => p.files.map((f) => f.sha256)))];
  t.ok(knownDigests.length > 0, 'the mirror has blobs to aim at');

  // One valid report first, so that the reports database exists before the snapshot.
  const warmup = await fetch(`${stack.server.url}/v1/clients/fuzz-host-0/report`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      hostId: 'fuzz-host-0',
      reportedAt: new Date().toISOString(),
      patches: [],
      events: [],
    }),
  });
  t.equal(warmup.status, 200, 'a valid report is accepted');

  const outsideBefore = snapshotTree(root, [dataDir]);
  const dataNamesBefore = new Set(snapshotTree(dataDir).keys());

  const rng = new Rng(SEED);
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const byClass = new Map<string, number>();
  const failures: string[] = [];
  let sent = 0;
  let generated = 0;

  const check = (req: RawRequest, res: RawResponse): void => {
    const klass = `${Math.floor(res.status / 100)}xx`;
    byClass.set(klass, (byClass.get(klass) ?? 0) + 1);
    if (res.status >= 500)
      failures.push(`${res.status} for ${describe(req)}: ${res.body.toString().slice(0, 300)}`);
    if (res.status >= 400 && res.status < 500 && req.method !== 'HEAD') {
      const problem = errorShapeProblem(res);
      if (problem !== null)
        failures.push(`${res.status} without the error shape (${problem}) for ${describe(req)}`);
    }
    if (req.target === 'blob' && res.status >= 200 && res.status < 300) {
      const digest = req.rawPath.slice('/v1/blobs/sha256/'.length);
      if (!knownDigests.includes(digest))
        failures.push(`${res.status} for a blob path that is no digest: ${describe(req)}`);
    }
  };

  // A fixed sequence of requests regardless of timing: the generator runs in order, and
  // workers only take the next one; so a seed replays the same requests.
  const next = (): RawRequest | undefined => {
    if (generated >= COUNT || Date.now() >= deadline) return undefined;
    generated++;
    return generateRequest({ rng, knownDigests });
  };
  const worker = async (): Promise<void> => {
    for (let req = next(); req !== undefined; req = next()) {
      try {
        check(req, await sendRaw(hostname, Number(port), req));
      } catch (err) {
        failures.push(`no valid response: ${(err as Error).message}`);
      }
      sent++;
      if (stack.server.child.exitCode !== null || stack.server.child.signalCode !== null) {
        failures.push(`the server died after ${describe(req)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);

  const classes = [...byClass.entries()]
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  t.comment(
    `fuzz: ${sent} requests, ${classes}, seed ${SEED}, ${seconds} s${sent < COUNT ? ' (stopped at the time limit)' : ''}`,
  );

  t.same(
    failures.slice(0, 20),
    [],
    `no invariant broken (${failures.length} failures; replay with PATCHBAY_FUZZ_SEED=${SEED})`,
  );
  t.ok(sent >= Math.min(COUNT, 500), `a meaningful number of requests were sent (${sent})`);
  t.equal(byClass.get('5xx') ?? 0, 0, 'no 5xx');

  t.equal(stack.server.child.exitCode, null, 'the server process is alive');
  const health = await fetch(`${stack.server.url}/healthz`);
  t.equal(health.status, 200, 'healthz answers after the run');
  const ready = await fetch(`${stack.server.url}/readyz`);
  t.equal(ready.status, 200, 'still ready: the catalog is still published');

  t.same(
    diffSnapshots(outsideBefore, snapshotTree(root, [dataDir])),
    [],
    'nothing outside the data dir was touched',
  );
  const unexpected = [...snapshotTree(dataDir).keys()].filter(
    (p) => !dataNamesBefore.has(p) && !ALLOWED_NEW_IN_DATA_DIR.test(p),
  );
  t.same(unexpected, [], 'no unexpected file appeared inside the data dir');
  t.equal(fs.readFileSync(path.join(root, 'canary.txt'), 'utf8'), 'untouched\n');
});
