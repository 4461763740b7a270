// The fleet: `opts.fleetHosts` simulated hosts (a separate load process, fleet-worker.mjs)
// against (a) one server on SQLite and (b) two replicas on PostgreSQL behind nginx. Two rounds,
// every host in each: the first contact (TUF refresh with the full metadata, the first report:
// 25 patch states, 3 events), then a later check (the next-root probe, timestamp.json with
// If-None-Match: 304; a report of the same states with one event, or, one host in ten, one
// patch installed since). Then the admin views timed at that size, and every acknowledged
// report looked for in the store. (b) is measured against (a) in the same run.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { postgresBinDir } from '../../test/helpers/postgres-cluster.mjs';
import { ADMIN_VIEWS, timeAdminViews } from '../lib/fleet-admin.mjs';
import { percentile, startFleet } from '../lib/fleet-load.mjs';
import {
  enrollSample,
  ReplicasUnsupported,
  startReplicas,
  startSignedUpstream,
  startSingle,
  writeFleetFeed,
} from '../lib/fleet-layouts.mjs';
import { verifyFleet } from '../lib/fleet-verify.mjs';
import { cpuSecondsOf, memoryOf, treeCpuSecondsOf, treeMemoryOf } from '../lib/procs.mjs';
import { hostReport } from '../lib/reports.mjs';
import { fmt } from '../lib/table.mjs';

const TARGET_REPORTS_PER_S = 2_000;
const TARGET_VIEW_MS = 500;
/** hosts in flight at once, over all load processes */
const CONCURRENCY = 64;
const LOAD_PROCESSES = 1;
/** hosts given a report token with `patchbay-server enroll` (a process each, about a second) */
const ENROLLED = 20;

const hostIdOf = (index) => hostReport(index, { patches: 0, events: 0 }).hostId;
const num = (n) => Math.round(n).toLocaleString('en-US');

function latencyText(sorted) {
  if (!sorted?.length) return '—';
  return `${percentile(sorted, 0.5).toFixed(1)} / ${percentile(sorted, 0.99).toFixed(1)} ms`;
}

/** Answers that are neither what a host expects nor the root probe's 404: "n×kind status". */
function unexpectedAnswers(round) {
  const expected = /^(root probe 404|timestamp (200|304)|metadata 200|(re-)?report 200)$/;
  const odd = Object.entries(round.statuses).filter(([key]) => !expected.test(key));
  return [...odd, ...Object.entries(round.errors)].map(([key, n]) => `${n}×${key}`);
}

/** CPU the deployment (servers, nginx, PostgreSQL) has used so far: what a report costs it. */
function serverCpuSeconds(stack) {
  return stack.processes.reduce(
    (total, p) => total + (p.withChildren ? treeCpuSecondsOf : cpuSecondsOf)(p.pid),
    0,
  );
}

async function runLayout(layout, ctx) {
  const { opts, log } = ctx;
  const stack = await layout.start();
  let fleet;
  try {
    const enrolled = opts.quick ? 2 : ENROLLED;
    const sample = Array.from({ length: enrolled }, (_, i) => Math.floor((i * opts.fleetHosts) / enrolled));
    const { tokens, enrollMs } = await enrollSample(stack.config, sample, hostIdOf);
    log(`fleet ${layout.key}: ${sample.length} hosts enrolled (${fmt.ms(enrollMs)} each); round 1`);
    fleet = await startFleet({ hosts: opts.fleetHosts, workers: LOAD_PROCESSES, tokens });
    const cpuBefore = serverCpuSeconds(stack);
    const first = await fleet.round(1, stack.url, CONCURRENCY);
    const cpuAfterFirst = serverCpuSeconds(stack);
    log(`fleet ${layout.key}: round 1 ${first.reports} reports in ${first.seconds.toFixed(1)} s; round 2`);
    const again = await fleet.round(2, stack.url, CONCURRENCY);
    log(
      `fleet ${layout.key}: round 2 ${again.reports} reports in ${again.seconds.toFixed(1)} s; admin views`,
    );
    const cpuAfterAgain = serverCpuSeconds(stack);
    const serverCpu = cpuAfterAgain - cpuBefore;
    const roundCpu = { first: cpuAfterFirst - cpuBefore, again: cpuAfterAgain - cpuAfterFirst };
    const views = await timeAdminViews(stack.url, log);
    const memory = [
      ...stack.processes.map((p) => ({ name: p.name, ...(p.withChildren ? treeMemoryOf : memoryOf)(p.pid) })),
      ...fleet.pids.map((pid) => ({ name: 'load', ...memoryOf(pid) })),
    ];
    const loadCpuSeconds = again.cpuMs / 1000;
    const database = await stack.databaseBytes();
    log(`fleet ${layout.key}: checking every acknowledged report in the store`);
    const lost = await verifyFleet(stack.url, again.acked, hostIdOf);
    log(`fleet ${layout.key}: ${lost.total} lost${lost.total ? `: ${JSON.stringify(lost.samples)}` : ''}`);
    return {
      first,
      again,
      serverCpu,
      roundCpu,
      views,
      memory,
      loadCpuSeconds,
      database,
      lost,
      enrollMs,
      enrolled: sample.length,
    };
  } finally {
    await fleet?.stop().catch(() => undefined);
    await stack.stop();
  }
}

/** CPU ms per report: `cpuSeconds` spent over `reports` acknowledged. */
const msPerReport = (cpuSeconds, reports) => (reports > 0 ? (1000 * cpuSeconds) / reports : NaN);

/**
 * What limits the measured reports/s: the load process runs on the same cores as the
 * deployment, so the measured rate is capped by both. The capacity is derived, not measured:
 * what the deployment's CPU per report allows were every core its own.
 */
function capacityRows(r) {
  const cores = availableParallelism();
  const server = {
    first: msPerReport(r.roundCpu.first, r.first.reports),
    again: msPerReport(r.roundCpu.again, r.again.reports),
  };
  const load = {
    first: msPerReport(r.first.roundCpuMs / 1000, r.first.reports),
    again: msPerReport(r.again.roundCpuMs / 1000, r.again.reports),
  };
  const capacity = (ms) => (1000 * cores) / ms;
  return [
    {
      figure: `server capacity on ${cores} cores, derived = ${cores} / (deployment CPU s per report): first contact / re-report`,
      text: `${num(capacity(server.first))} / ${num(capacity(server.again))} reports/s (CPU per report ${server.first.toFixed(2)} / ${server.again.toFixed(2)} ms)`,
      n: capacity(server.again),
    },
    {
      figure:
        'load process CPU per report, first contact / re-report (on the same cores: caps the measured rate)',
      text: `${load.first.toFixed(2)} / ${load.again.toFixed(2)} ms (${((100 * load.again) / (load.again + server.again)).toFixed(0)} % of the re-report round's CPU)`,
      n: load.again,
    },
  ];
}

/** One layout's figures: { figure, text, n (for the ratio), target, met }. */
function figures(r) {
  const rate = (round) => round.reports / round.seconds;
  const odd = [...unexpectedAnswers(r.first), ...unexpectedAnswers(r.again)];
  const reports = r.first.reports + r.again.reports;
  // CPU time, not wall time: comparable on a machine shared with other work
  const cpuPerReport = (1000 * r.serverCpu) / reports;
  const dbTotal = Object.values(r.database).reduce((a, b) => a + b, 0);
  const rows = [
    {
      figure: 'first contact: reports/s (each host: full TUF refresh + report)',
      text: `${num(rate(r.first))} reports/s (${num(r.first.reports)} in ${r.first.seconds.toFixed(1)} s)`,
      n: rate(r.first),
      target: `≥ ${num(TARGET_REPORTS_PER_S)}/s`,
      met: rate(r.first) >= TARGET_REPORTS_PER_S,
    },
    {
      figure: 're-report: reports/s (poll 304 + same states; 1 in 10 one change)',
      text: `${num(rate(r.again))} reports/s (${num(r.again.reports)} in ${r.again.seconds.toFixed(1)} s)`,
      n: rate(r.again),
      target: `≥ ${num(TARGET_REPORTS_PER_S)}/s`,
      met: rate(r.again) >= TARGET_REPORTS_PER_S,
    },
    ...capacityRows(r),
    {
      figure: 'deployment CPU per report, both rounds (its refresh included)',
      text: `${cpuPerReport.toFixed(2)} ms (${r.serverCpu.toFixed(0)} CPU s for ${num(reports)} reports)`,
      n: cpuPerReport,
    },
    {
      figure: 'report latency p50 / p99, first / re-report',
      text: `${latencyText(r.first.latency.report)}; ${latencyText(r.again.latency['re-report'])}`,
      n: percentile(r.again.latency['re-report'] ?? [], 0.99),
    },
    {
      figure: 'metadata poll p50 / p99 (timestamp.json If-None-Match: 304)',
      text: latencyText(r.again.latency.timestamp),
      n: percentile(r.again.latency.timestamp ?? [], 0.99),
    },
    {
      figure: 'first contact metadata p50 / p99 (snapshot, targets, role)',
      text: latencyText(r.first.latency.metadata),
      n: percentile(r.first.latency.metadata ?? [], 0.99),
    },
    {
      figure: 'lost (acknowledged, not in the store)',
      text:
        `${r.lost.total}` +
        (r.lost.total
          ? ` (absent ${r.lost.absent}, states behind ${r.lost.statesBehind}, events short ${r.lost.eventsShort})`
          : '') +
        `; unexpected answers: ${odd.length ? odd.join(', ') : 'none'}`,
      target: '0',
      met: r.lost.total === 0,
    },
    {
      figure: 'database size',
      text: Object.entries(r.database)
        .map(([store, bytes]) => `${store} ${fmt.mib(bytes)}`)
        .join(' + '),
      n: dbTotal,
    },
    {
      figure: 'RSS peak / end per process',
      text:
        r.memory.map((m) => `${m.name} ${fmt.mib(m.peak)} / ${fmt.mib(m.current)}`).join('; ') +
        ` (load CPU ${r.loadCpuSeconds.toFixed(0)} s over both rounds)`,
    },
  ];
  for (const [viewPath, label] of ADMIN_VIEWS) {
    const { cold, warm } = r.views[viewPath];
    const ok = cold.status === 200 && warm.status === 200;
    rows.push({
      figure: `${label}: first / again`,
      text: `${fmt.ms(cold.ms)} / ${fmt.ms(warm.ms)} (${(cold.bytes / 1e6).toFixed(1)} MB${ok ? '' : `, ${cold.status}`})`,
      n: cold.ms,
      target: `< ${TARGET_VIEW_MS} ms`,
      met: ok && Math.max(cold.ms, warm.ms) < TARGET_VIEW_MS,
    });
  }
  return rows;
}

function skipReason(ctx) {
  const absent = [];
  if (!postgresBinDir()) absent.push('PostgreSQL (apt-get install postgresql)');
  if (!ctx.tools.nginx) absent.push('nginx (apt-get install nginx)');
  return absent.length ? `skipped: ${absent.join(' and ')} not installed` : undefined;
}

export async function fleetCase(ctx) {
  const { work } = ctx;
  const feedDir = path.join(work, 'fleet-feed');
  await writeFleetFeed(feedDir);
  const upstream = await startSignedUpstream(path.join(work, 'fleet-upstream'), feedDir);
  try {
    return await measureLayouts(ctx, upstream);
  } finally {
    await upstream.stop();
  }
}

async function measureLayouts(ctx, upstream) {
  const { opts, work, tools } = ctx;
  const layouts = [
    {
      id: 'a',
      key: '(a)',
      label: 'one server, SQLite',
      start: () => startSingle({ dir: path.join(work, 'fleet-a'), upstream }),
    },
    {
      id: 'b',
      key: '(b)',
      label: '2 replicas, PostgreSQL, nginx',
      skip: skipReason(ctx),
      start: () => startReplicas({ dir: path.join(work, 'fleet-b'), upstream, nginxBin: tools.nginx }),
    },
  ].filter((layout) => opts.fleetLayouts.includes(layout.id));
  const rows = [];
  let baseline;
  for (const layout of layouts) {
    const title = `fleet ${layout.key} ${layout.label}, ${num(opts.fleetHosts)} hosts`;
    if (layout.skip) {
      ctx.log(`fleet ${layout.key}: ${layout.skip}`);
      rows.push({ case: title, figure: 'all', value: layout.skip, met: null });
      continue;
    }
    let measured;
    try {
      measured = figures(await runLayout(layout, ctx));
    } catch (err) {
      if (err instanceof ReplicasUnsupported) {
        ctx.log(`fleet ${layout.key}: ${err.message}`);
        rows.push({ case: title, figure: 'all', value: err.message, met: null });
        continue;
      }
      ctx.log(`fleet ${layout.key} failed: ${err.stack ?? err.message}`);
      rows.push({
        case: title,
        figure: 'FAILED',
        value: err.message.split('\n')[0].slice(0, 160),
        met: false,
      });
      continue;
    }
    measured.forEach((f, i) => {
      const base = baseline?.[i];
      rows.push({
        case: i === 0 ? title : '',
        figure: f.figure,
        value: f.text,
        // a ratio where the figure is one number; the text alone would only widen the table
        ...(base?.n !== undefined &&
          f.n !== undefined && { baseline: base.text, ratio: fmt.ratio(f.n, base.n) }),
        target: f.target,
        met: f.met,
      });
    });
    baseline ??= measured;
  }
  return rows;
}
