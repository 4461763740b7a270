// Graceful SIGTERM of `patchbay-client run` (issue 5), against a real staging server through a
// throttling proxy: no new work after the signal; a download in flight ends with its partial
// kept (and the next run resumes it); an install in flight is not killed, and its result is
// recorded and reported; queued reports go out when the server answers, and a server that
// hangs does not hold the exit; exit 0. A second signal exits at once, and the next run waits
// for the installer that signal left running.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { BIN, run, waitFor } from '../helpers/processes.js';
import { startStack } from '../helpers/stack.js';
import type { ClientHandle, Stack } from '../helpers/stack.js';
import { FULL, Invariants } from './figures.js';
import {
  SLOW_PATCH,
  addSlowPatch,
  downloadEventBytes,
  markerExists,
  readCache,
  readLedger,
  serverCatalog,
  startThrottleProxy,
} from './client-crash-rig.js';
import type { ThrottleProxy } from './client-crash-rig.js';

const SUITE = 'client-shutdown';
/** slow enough that a 1 MB file is seconds in flight */
const PROXY_BYTES_PER_SECOND = 400_000;
/** generous bound for "exits promptly" on a loaded two-core machine (not a timing assertion) */
const EXIT_BOUND_MS = 60_000;

interface Rig {
  stack: Stack;
  proxy: ThrottleProxy;
}

interface Running {
  child: ChildProcess;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  stderr: () => string;
}

let clientCount = 0;

function newClient(rig: Rig, label: string, extra: Record<string, unknown> = {}): ClientHandle {
  clientCount += 1;
  return rig.stack.writeClientConfig(`s${clientCount}-${label}`, '19.0', {
    server: rig.proxy.url,
    retries: 1,
    timeoutSeconds: 10,
    policy: { autoInstall: 'critical' },
    schedule: { check: null, download: null, install: null, intervalSeconds: 3600, jitterSeconds: 0 },
    log: { level: 'info' },
    ...extra,
  });
}

function startClient(client: ClientHandle, args: string[]): Running {
  const child = spawn(process.execPath, [BIN.client, '--config', client.config, ...args], {
    env: { ...process.env, PATCHBAY_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stderr: () => stderr };
}

/** Wait for the exit, SIGKILLing after the bound; `boundExceeded` says whether that was needed. */
async function exitWithin(
  running: Running,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; boundExceeded: boolean }> {
  let boundExceeded = false;
  const timer = setTimeout(() => {
    boundExceeded = true;
    running.child.kill('SIGKILL');
  }, ms);
  const [code, signal] = await running.exited;
  clearTimeout(timer);
  return { code, signal, boundExceeded };
}

function slowInstall(client: ClientHandle, seconds: number): void {
  fs.writeFileSync(path.join(client.installDir, '.slow-seconds'), `${seconds}\n`);
}

function installerRunning(client: ClientHandle): boolean {
  return fs.existsSync(path.join(client.installDir, `.${SLOW_PATCH}.running`));
}

async function serverSeqs(rig: Rig, hostId: string): Promise<number[]> {
  const doc = await rig.stack.getJson<{ events: { seq: number }[] } | { seq: number }[]>(
    `/v1/reports/history?host=${encodeURIComponent(hostId)}&limit=10000`,
  );
  return (Array.isArray(doc) ? doc : doc.events).map((e) => e.seq);
}

async function setUp(t: Test): Promise<Rig> {
  const stack = await startStack(t.testdir(), { releases: ['19.0'] });
  t.teardown(() => stack.stop());
  await addSlowPatch(stack, 0.5, 1_500_000);
  const proxy = await startThrottleProxy(stack.server.url, PROXY_BYTES_PER_SECOND);
  t.teardown(() => proxy.close());
  return { stack, proxy };
}

t.test('SIGTERM of patchbay-client run', async (t) => {
  const rig = await setUp(t);

  await t.test('during a download: the partial is kept, exit 0, the next run resumes it', async (t) => {
    const inv = new Invariants(t);
    const client = newClient(rig, 'download');
    const daemon = startClient(client, ['run']);
    const tmp = path.join(client.dataDir, 'cache', 'tmp');
    const inFlight = await waitFor('a partial download in flight', async () =>
      (fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).find(
        (n) => n.endsWith('.part') && fs.statSync(path.join(tmp, n)).size > 0,
      ),
    );
    daemon.child.kill('SIGTERM');
    const digest = inFlight.slice(0, -'.part'.length);
    const exit = await exitWithin(daemon, EXIT_BOUND_MS);
    inv.check(exit.code === 0 && !exit.boundExceeded, 'SIGTERM: exit 0 within the bound', {
      ...exit,
      stderr: daemon.stderr().slice(-2000),
    });
    const cache = readCache(client.dataDir);
    inv.check(cache.badBlobs.length === 0, 'cache: no unverified file under a blob name', cache.badBlobs);
    inv.check(
      cache.partials.has(digest) || cache.blobs.includes(digest),
      'the download in flight ended cleanly: its partial kept for resume, or finished',
      { digest, tmp: cache.tmpFiles, stderr: daemon.stderr().slice(-3000) },
    );
    const ledger = readLedger(client.dataDir);
    const failed = (ledger?.events ?? []).filter((e) => e.outcome === 'failed');
    inv.check(failed.length === 0, 'a stop is not recorded as a failure', failed);

    const next = await run(BIN.client, ['--config', client.config, 'download', '--critical', '--json']);
    inv.check(next.code === 0, 'the next run completes', next.stderr.slice(-2000));
    const after = readLedger(client.dataDir);
    const catalog = await serverCatalog(rig.stack);
    const lastSeq = (ledger?.events ?? []).reduce((n, e) => Math.max(n, e.seq), 0);
    let resumedBytes = 0;
    let fileBytes = 0;
    for (const patch of catalog.patches) {
      const partial = patch.files.reduce((n, f) => n + (cache.partials.get(f.sha256) ?? 0), 0);
      if (partial === 0) continue;
      const size = patch.files.reduce((n, f) => n + f.size, 0);
      const fetched = (after?.events ?? [])
        .filter((e) => e.seq > lastSeq && e.type === 'download' && e.patchId === patch.id)
        .reduce((n, e) => n + downloadEventBytes(e), 0);
      resumedBytes += fetched;
      fileBytes += size;
      inv.check(fetched <= size - partial, 'the next run resumes the partial (not from zero)', {
        patch: patch.id,
        size,
        partial,
        fetched,
      });
    }
    inv.check(readCache(client.dataDir).tmpFiles.length === 0, 'no partial outlives the next run');
    inv.record({
      suite: SUITE,
      scenario: 'SIGTERM during a download',
      trials: 1,
      bytesFetched: resumedBytes,
      fileBytes,
    });
  });

  await t.test('during an install: it finishes, is recorded and reported; nothing new starts', async (t) => {
    const inv = new Invariants(t);
    const client = newClient(rig, 'install');
    slowInstall(client, 4);
    const daemon = startClient(client, ['run', '--once']);
    await waitFor('the slow installer running', async () => installerRunning(client), 120_000);
    const stopAt = new Date().toISOString();
    daemon.child.kill('SIGTERM');
    const exit = await exitWithin(daemon, EXIT_BOUND_MS);
    inv.check(exit.code === 0 && !exit.boundExceeded, 'SIGTERM: exit 0 within the bound', {
      ...exit,
      stderr: daemon.stderr().slice(-2000),
    });
    inv.check(
      markerExists(client.installDir, SLOW_PATCH),
      'the running installer was not killed: it finished',
    );
    const ledger = readLedger(client.dataDir);
    inv.check(
      ledger?.patches[SLOW_PATCH]?.state === 'installed',
      'its result is in the ledger',
      ledger?.patches,
    );
    inv.check(Object.keys(ledger?.pending ?? {}).length === 0, 'nothing left pending', ledger?.pending);
    const event = ledger?.events.find(
      (e) => e.type === 'install' && e.patchId === SLOW_PATCH && e.outcome === 'ok',
    );
    inv.check(event !== undefined, 'its install event is recorded');
    const seqs = await serverSeqs(rig, client.hostId);
    inv.check(event !== undefined && seqs.includes(event.seq), 'its install event reached the server', seqs);
    const unreported = (ledger?.events ?? []).filter((e) => e.seq > (ledger?.lastAckedSeq ?? 0));
    inv.check(unreported.length === 0, 'queued reports were flushed before the exit', unreported);
    const startedLater = (ledger?.events ?? []).filter(
      (e) => e.type === 'install' && e.patchId !== SLOW_PATCH && e.at > stopAt,
    );
    inv.check(startedLater.length === 0, 'no install started after the stop request', startedLater);
    inv.record({ suite: SUITE, scenario: 'SIGTERM during an install', trials: 1 });
  });

  // ~22 s of waiting on purpose: npm run test:faults runs it, npm test (CI time) does not.
  const hangingSkip = FULL ? false : 'runs under npm run test:faults (PATCHBAY_FAULTS=full)';
  await t.test(
    'with the server hanging: the exit is bounded and the events wait on disk',
    { skip: hangingSkip },
    async (t) => {
      const inv = new Invariants(t);
      const client = newClient(rig, 'hang', { timeoutSeconds: 2, retries: 0 });
      slowInstall(client, 3);
      const daemon = startClient(client, ['run', '--once']);
      await waitFor('the slow installer running', async () => installerRunning(client), 120_000);
      rig.proxy.setHanging(true);
      daemon.child.kill('SIGTERM');
      const exit = await exitWithin(daemon, EXIT_BOUND_MS);
      rig.proxy.setHanging(false);
      inv.check(exit.code === 0 && !exit.boundExceeded, 'SIGTERM: exit 0 within the bound', {
        ...exit,
        stderr: daemon.stderr().slice(-2000),
      });
      const ledger = readLedger(client.dataDir);
      const event = ledger?.events.find((e) => e.type === 'install' && e.patchId === SLOW_PATCH);
      inv.check(event?.outcome === 'ok', 'the install finished and is recorded', event);
      inv.check(
        event !== undefined && event.seq > (ledger?.lastAckedSeq ?? 0),
        'its event waits on disk (the server did not answer)',
        { lastAckedSeq: ledger?.lastAckedSeq, event },
      );
      const next = await run(BIN.client, ['--config', client.config, 'run', '--once']);
      inv.check(next.code === 0, 'the next run completes', next.stderr.slice(-2000));
      const seqs = await serverSeqs(rig, client.hostId);
      inv.check(
        event !== undefined && seqs.filter((s) => s === event.seq).length === 1,
        'delivered once by the next run',
        seqs,
      );
      inv.record({ suite: SUITE, scenario: 'SIGTERM with the server hanging', trials: 1 });
    },
  );

  await t.test('a second signal exits at once; the next run waits for the installer', async (t) => {
    const inv = new Invariants(t);
    const client = newClient(rig, 'twice');
    slowInstall(client, 6);
    const daemon = startClient(client, ['run', '--once']);
    await waitFor('the slow installer running', async () => installerRunning(client), 120_000);
    daemon.child.kill('SIGTERM');
    await waitFor('the stop request logged', async () => daemon.stderr().includes('stop requested'));
    daemon.child.kill('SIGTERM');
    const exit = await exitWithin(daemon, EXIT_BOUND_MS);
    inv.check(exit.code === 143, 'the second SIGTERM exits at once (143)', exit);
    inv.check(installerRunning(client), 'it did not wait for the installer', {
      marker: markerExists(client.installDir, SLOW_PATCH),
    });
    const next = await run(BIN.client, ['--config', client.config, 'install', '--critical', '--json']);
    inv.check(
      next.code === 0,
      'the next run waits for the surviving installer and completes',
      next.stderr.slice(-2000),
    );
    inv.check(markerExists(client.installDir, SLOW_PATCH), 'the patch ends installed');
    inv.check(!installerRunning(client), 'no installer left running');
    inv.record({ suite: SUITE, scenario: 'second SIGTERM', trials: 1 });
  });
});
