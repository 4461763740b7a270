// npm run bench [-- --quick | options]: builds the fixtures, runs each case over loopback with
// its baselines in the same run, prints one table (figure, baseline, ratio, target) with the
// machine it ran on. Missing baseline tools are reported as skipped with the line that installs
// them; nothing is installed. See docs/performance.md.
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { blobServing } from './cases/blob-serving.mjs';
import { catalogPoll } from './cases/catalog-poll.mjs';
import { clientCheckTuf } from './cases/client-check-tuf.mjs';
import { clientMemory } from './cases/client-memory.mjs';
import { fleetCase } from './cases/fleet.mjs';
import { reportIngest } from './cases/report-ingest.mjs';
import { serverMemory } from './cases/server-memory.mjs';
import { syncCase } from './cases/sync.mjs';
import { writeMemoryFeed, writeServeFeed } from './lib/fixtures.mjs';
import { memoryOf } from './lib/procs.mjs';
import { calibrationMs, describeMachine, machineLines } from './lib/machine.mjs';
import { readOptions, USAGE } from './lib/options.mjs';
import { startServer, startUpstream, writeServerConfig } from './lib/stack.mjs';
import { fmt, formatTable } from './lib/table.mjs';
import { findTools, installHint } from './lib/tools.mjs';

let opts;
try {
  opts = readOptions(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const log = (msg) => console.error(`[bench ${elapsed()}] ${msg}`);
const machine = describeMachine();
const tools = findTools(opts.without);
const loadTool = tools.wrk ? 'wrk' : 'autocannon';
const missing = Object.entries(tools)
  .filter(([, p]) => !p)
  .map(([n]) => n);

const work = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-'));
const cleanup = () => {
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

// Upstream copy + store copy of the serving feed, the sync feed twice (upstream, store), the
// client's copy of its big blob, and curl's copy: all at once in the worst case.
const serveBytes = opts.blobCount * opts.blobBytes + opts.serverMemBytes + opts.clientMemBytes;
const needed = 2 * serveBytes + opts.clientMemBytes + 3 * opts.syncBytes + 2 ** 30;
const { bavail, bsize } = statfsSync(work);
if (bavail * bsize < needed) {
  console.error(
    `bench: ${work} has ${((bavail * bsize) / 2 ** 30).toFixed(1)} GiB free, the fixtures need about ` +
      `${(needed / 2 ** 30).toFixed(1)} GiB; use smaller sizes (--help) or free some space`,
  );
  cleanup();
  process.exit(2);
}

const rows = [];
const failures = [];
const wants = (name) => opts.only.includes(name);
const ctx = { opts, tools, loadTool, work, log, serve: null, memory: null };

async function runCase(name, fn) {
  if (!wants(name)) return;
  log(`${name} ...`);
  try {
    rows.push(...(await fn(ctx)));
  } catch (err) {
    failures.push(`${name}: ${err.message}`);
    rows.push({ case: name, figure: 'FAILED', value: err.message.split('\n')[0].slice(0, 120), met: false });
  }
}

/** An upstream serving `feedDir` and a staging server mirroring it, start-up sync done. */
async function startStack(name, feedDir, products) {
  const upstream = await startUpstream(feedDir);
  try {
    const serverDir = path.join(work, `${name}-server`);
    const config = writeServerConfig(serverDir, { upstreamUrl: upstream.url, products });
    const server = await startServer(config);
    return { upstream, server, url: server.url, config, dataDir: path.join(serverDir, 'server-data') };
  } catch (err) {
    await upstream.stop();
    throw err;
  }
}

async function stopStack(stack) {
  if (!stack) return;
  await stack.server.stop().catch(() => undefined);
  await stack.upstream.stop().catch(() => undefined);
}

try {
  log(
    `fixtures in ${work} (load generator: ${loadTool}${missing.length ? `; missing: ${missing.join(', ')}` : ''})`,
  );
  if (['catalog', 'check', 'blobs', 'ingest'].some(wants)) {
    const feed = await writeServeFeed(path.join(work, 'serve-feed'), {
      patches: opts.patches,
      blobCount: opts.blobCount,
      blobBytes: opts.blobBytes,
    });
    log(
      `serving feed written: ${feed.patches} patches; starting upstream and staging server (start-up sync)`,
    );
    ctx.serve = await startStack('serve', path.join(work, 'serve-feed'), [
      { id: 'bench-blobs', releases: ['1.0'] },
      { id: 'bench-suite', releases: ['1.0', '2.0', '3.0', '4.0'] },
    ]);
    ctx.serve.feed = feed;
    ctx.serve.idleRss = memoryOf(ctx.serve.server.pid).current;
    log(`staging server ${ctx.serve.url}: ${ctx.serve.server.status.mirror.patches} patches published`);
    await runCase('catalog', catalogPoll);
    await runCase('check', clientCheckTuf);
    await runCase('blobs', blobServing);
    await runCase('ingest', reportIngest);
    rows.push({
      case: `server RSS, ${opts.patches.toLocaleString('en-US')}-patch catalog`,
      figure: 'after the start-up sync / at the end',
      value: `${fmt.mib(ctx.serve.idleRss)} / ${fmt.mib(memoryOf(ctx.serve.server.pid).current)}`,
    });
    await stopStack(ctx.serve);
  }
  if (['client-memory', 'server-memory'].some(wants)) {
    const feed = await writeMemoryFeed(path.join(work, 'memory-feed'), {
      serverBytes: opts.serverMemBytes,
      clientBytes: opts.clientMemBytes,
    });
    log('memory feed written; starting upstream and staging server (start-up sync)');
    ctx.memory = await startStack('memory', path.join(work, 'memory-feed'), [
      { id: 'bench-big', releases: ['1.0'] },
    ]);
    ctx.memory.feed = feed;
    ctx.memory.feedDir = path.join(work, 'memory-feed');
    await runCase('client-memory', clientMemory);
    await runCase('server-memory', serverMemory);
    await stopStack(ctx.memory);
  }
  await runCase('sync', syncCase);
  await runCase('fleet', fleetCase);
} catch (err) {
  failures.push(`setup: ${err.stack ?? err.message}`);
} finally {
  await stopStack(ctx.serve);
  await stopStack(ctx.memory);
  cleanup();
}

const end = { loadavg: os.loadavg().map((l) => l.toFixed(2)), calibrationMs: calibrationMs() };
const out = [
  `patchbay benchmark${opts.quick ? ' (--quick: small sizes, figures are not meaningful)' : ''}`,
  ...machineLines(machine, end),
  `load gen  ${loadTool}, a separate process${missing.length ? `; not installed: ${missing.join(', ')} (${installHint(missing)})` : ''}`,
  `took      ${elapsed()}`,
  '',
  formatTable(rows),
];
console.log(out.join('\n'));
if (opts.json) {
  writeFileSync(
    opts.json,
    JSON.stringify({ machine, end, loadTool, options: opts, rows, failures }, null, 2),
  );
}
if (opts.keep) console.log(`\nfixtures kept in ${work}`);
if (failures.length > 0) {
  console.error(`\nbench: ${failures.length} case(s) failed:\n${failures.join('\n')}`);
  process.exitCode = 1;
}
