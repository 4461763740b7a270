// Measures the admin reports at fleet scale, straight from the store (no HTTP):
// Patches Installed — current (compliance, whole and its counts alone), Patches Downloaded,
// the installs history, /v1/clients whole and paged, what /v1/status and the status page's
// host view read, and the retention prune.
//
//   npx tsc -b packages/staging-server && node packages/staging-server/bench/reports-at-scale.mjs [hosts] [patches] [only]
//
// `only`: run the cases whose name contains one of its comma-separated parts (e.g. "host view,clients"). Each case is timed by the
// wall clock and by this process's CPU time (user + system), the figure to trust on a busy machine.
//
// Figures from this script are in docs/reports.md, "At 10,000 hosts".
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { complianceRowJson } from '../dist/http/compliance-json.js';
import { jsonArrayParts } from '../dist/http/json-stream.js';
import { buildCompliance, buildHostMatrix } from '../dist/reports/compliance.js';
import { buildComplianceCounts } from '../dist/reports/compliance-counts.js';
import { complianceByPatch, readHostProfiles } from '../dist/reports/compliance-export.js';
import { counterHostPage } from '../dist/reports/host-page.js';
import { ReportStore } from '../dist/reports/report-store.js';
import { pruneExpiredEvents } from '../dist/reports/retention.js';
import { downloadedPages, installHistoryRows, sortHosts } from '../dist/reports/views.js';

const HOSTS = Number(process.argv[2] ?? 10_000);
const PATCHES = Number(process.argv[3] ?? 25);
const ONLY = process.argv[4]?.split(',');
const EVENTS_PER_HOST = 10;
const BATCH = 1_000;
const START = Date.UTC(2025, 10, 1);
const DAY = 86_400_000;
const STATES = ['installed', 'installed', 'installed', 'downloaded', 'available', 'failed', 'superseded'];

const patchId = (p) => `T5KB${String(p).padStart(4, '0')}`;
const patches = Array.from({ length: PATCHES }, (_, p) => ({
  id: patchId(p),
  product: 'arcserve-backup',
  release: p % 5 === 0 ? '18.0' : '19.0',
  title: `Patch ${p}`,
  severity: ['critical', 'recommended', 'optional'][p % 3],
  publishedAt: new Date(START + p * DAY).toISOString(),
  rebootRequired: p % 4 === 0,
  files: [],
  install: { command: ['true'] },
}));

function hostReport(h) {
  const hostId = `host-${String(h).padStart(6, '0')}`;
  return {
    hostId,
    hostname: `${hostId}.corp`,
    daemonVersion: '0.2.0',
    platform: h % 3 === 0 ? 'win32' : 'linux',
    reportedAt: new Date(START + 360 * DAY).toISOString(),
    pendingReboot: h % 10 === 0,
    products: [
      { id: 'arcserve-backup', release: '19.0' },
      ...(h % 2 === 0 ? [{ id: 'arcserve-backup', release: '18.0' }] : []),
    ],
    patches: patches.map((p, i) => {
      const state = STATES[(h + i) % STATES.length];
      return {
        id: p.id,
        state,
        since: '2026-10-01T00:00:00.000Z',
        cached: state === 'installed' && i % 2 === 0,
      };
    }),
    // spread over 400 days, so a 365-day retention has something to prune
    events: Array.from({ length: EVENTS_PER_HOST }, (_, i) => ({
      seq: i + 1,
      type: ['check', 'download', 'install', 'uninstall', 'install'][i % 5],
      patchId: patchId((h + i) % PATCHES),
      at: new Date(START - 40 * DAY + ((h * 7919 + i * 104729) % (400 * 86_400)) * 1000).toISOString(),
      outcome: i % 7 === 0 ? 'failed' : 'ok',
      message: '',
    })),
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function time(fn, runs) {
  const samples = [];
  const cpu = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const [t0, c0] = [performance.now(), cpuMs()];
    result = await fn();
    samples.push(performance.now() - t0);
    cpu.push(cpuMs() - c0);
  }
  return { ms: median(samples), cpu: median(cpu), result };
}

/**
 * A streamed export read to its end as an HTTP answer takes it (a turn of the event loop
 * between parts): ms to the first part, MB, and the longest the event loop was held meanwhile
 * (what a report or poll arriving during the export waits at most).
 */
async function drain(openParts) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  let first;
  let chars = 0;
  for await (const part of await openParts()) {
    first ??= performance.now() - t0;
    chars += part.length;
    await nextTurn();
  }
  delay.disable();
  return { first, mb: chars / 1e6, stall: delay.max / 1e6 };
}

const streamed = (r) =>
  `${r.mb.toFixed(1)} MB; first part at ${r.first.toFixed(0)} ms; event loop held at most ${r.stall.toFixed(0)} ms`;

const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-reports-'));
try {
  const store = await ReportStore.open(dir);
  let t0 = performance.now();
  const fillCpu = cpuMs();
  for (let h = 0; h < HOSTS; h += BATCH) {
    const reports = [];
    for (let i = h; i < Math.min(h + BATCH, HOSTS); i++) reports.push(hostReport(i));
    await store.ingestMany(reports);
  }
  await store.recordPatchFacts(patches);
  const fillSeconds = (performance.now() - t0) / 1000;
  const fillCpuSeconds = (cpuMs() - fillCpu) / 1000;

  const compliance = async () =>
    buildCompliance(patches, await store.hostProfiles(), await store.allStates());
  const staleBefore = new Date(START + 359 * DAY).toISOString();
  /** A page of the host view as the route serves it from the counters (what a request reads). */
  const hostViewPage = async (page) => {
    const [states, profiles, pendingReboot] = await Promise.all([
      store.patchStateCounts(),
      store.profileCounts(),
      store.pendingRebootInstalls(),
    ]);
    return (await counterHostPage(store, patches, { states, profiles, pendingReboot }, page)).hosts;
  };
  const cases = [
    [
      'compliance counts (?hosts=false, and its CSV)',
      async () => {
        const [states, profiles, pendingReboot] = await Promise.all([
          store.patchStateCounts(),
          store.profileCounts(),
          store.pendingRebootInstalls(),
        ]);
        return JSON.stringify(buildComplianceCounts(patches, { states, profiles, pendingReboot }));
      },
      (r) => `${(r.length / 1e3).toFixed(1)} kB`,
    ],
    ['/v1/status (countClients)', () => store.countClients(staleBefore), (r) => `${r.total} hosts`],
    ['/metrics (countClientStates)', () => store.countClientStates(staleBefore), (r) => `${r.size} states`],
    [
      '/v1/clients?limit=100 (first page)',
      () => store.listClients({ limit: 100 }),
      (r) => `${r.length} hosts`,
    ],
    ['compliance (all patches × hosts)', compliance, (r) => `${r.length} patches`],
    [
      'compliance + JSON.stringify (the HTTP body)',
      async () => JSON.stringify(await compliance()),
      (r) => `${(r.length / 1e6).toFixed(1)} MB`,
    ],
    [
      'status page host view, first 100, from the counters (after any report)',
      () => hostViewPage({ sort: 'behind', order: 'desc', offset: 0, limit: 100 }),
      (r) => `${r.length} hosts`,
    ],
    [
      'status page host view, 100 at offset 10000 by lastSeenAt, from the counters',
      () => hostViewPage({ sort: 'lastSeenAt', order: 'asc', offset: 10_000, limit: 100 }),
      (r) => `${r.length} hosts`,
    ],
    [
      'status page host view, first 100, whole matrix (uncached: filters, search, hostname sort)',
      async () => {
        const matrix = buildHostMatrix(patches, await store.hostProfiles(), await store.allStates());
        return sortHosts(matrix.hosts, 'behind', 'desc').slice(0, 100);
      },
      (r) => `${r.length} hosts`,
    ],
    [
      'compliance, streamed a patch at a time (the HTTP body)',
      () =>
        drain(async () =>
          jsonArrayParts(complianceByPatch(store, patches, await readHostProfiles(store)), complianceRowJson),
        ),
      streamed,
    ],
    [
      'downloaded (all), one read (as before the stream)',
      () => drain(async () => jsonArrayParts(downloadedPages(store, {}, () => true, HOSTS * PATCHES))),
      streamed,
    ],
    [
      'downloaded (all), streamed by page (the HTTP body)',
      () => drain(async () => jsonArrayParts(downloadedPages(store, {}, () => true))),
      streamed,
    ],
    [
      'downloaded, severity=critical, streamed',
      () => drain(async () => jsonArrayParts(downloadedPages(store, { severity: 'critical' }, () => true))),
      streamed,
    ],
    [
      'installs, newest 1000',
      async () => installHistoryRows(store, await store.history({ installsOnly: true, limit: 1000 })),
      (r) => `${r.length} rows`,
    ],
    [
      'installs, severity=critical, newest 1000',
      async () =>
        installHistoryRows(
          store,
          await store.history({ installsOnly: true, severity: 'critical', limit: 1000 }),
        ),
      (r) => `${r.length} rows`,
    ],
    ['/v1/clients (all)', () => store.listClients(), (r) => `${r.length} hosts`],
    [
      '/v1/clients (all) + JSON.stringify (the HTTP body)',
      async () => JSON.stringify(await store.listClients()),
      (r) => `${(r.length / 1e6).toFixed(1)} MB`,
    ],
    [
      '/v1/clients?limit=500&after=host-005000',
      () => store.listClients({ limit: 500, after: 'host-005000' }),
      (r) => `${r.length} hosts`,
    ],
  ];

  console.log(
    `# ${HOSTS} hosts x ${PATCHES} patches (${HOSTS * EVENTS_PER_HOST} events); node ${process.version}; ` +
      `${cpus().length} cpus (${cpus()[0]?.model ?? '?'}); load ${loadavg()[0].toFixed(1)}; ${new Date().toISOString().slice(0, 10)}`,
  );
  console.log(
    `# fill (batches of ${BATCH} reports): ${fillSeconds.toFixed(1)} s, ${fillCpuSeconds.toFixed(1)} s CPU`,
  );
  console.log('| report (from the store) | median of 5 | CPU, median | result |');
  console.log('|---|---|---|---|');
  for (const [name, fn, describe] of cases) {
    if (ONLY !== undefined && !ONLY.some((part) => name.includes(part))) continue;
    const { ms, cpu, result } = await time(fn, 5);
    console.log(`| ${name} | ${ms.toFixed(0)} ms | ${cpu.toFixed(0)} ms | ${describe(result)} |`);
  }
  t0 = performance.now();
  const pruned = await pruneExpiredEvents(store, 365, new Date(START + 360 * DAY));
  console.log(
    `| prune events older than 365 days | ${(performance.now() - t0).toFixed(0)} ms | | ${pruned} events |`,
  );
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
