// Measures the history filters at fleet scale: the indexed SQLite ReportStore versus
// a keyv-style store (JSON values under string keys, the layout @keyv/sqlite uses),
// where any filter other than the key means reading and parsing every value.
//
//   npx tsc -b packages/staging-server && node packages/staging-server/bench/history-store.mjs [hosts]
//
// Figures from this script are in docs/http-api.md, "Why SQLite for reports".
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { ReportStore } from '../dist/reports/report-store.js';

const HOSTS = Number(process.argv[2] ?? 100_000);
const EVENTS_PER_HOST = 5;
const BATCH = 2_000;
const TYPES = ['check', 'download', 'install', 'uninstall', 'error'];
const START = Date.UTC(2026, 9, 1);

function hostReport(h) {
  const hostId = `host-${String(h).padStart(6, '0')}`;
  return {
    hostId,
    hostname: `${hostId}.corp`,
    daemonVersion: '0.1.0',
    platform: h % 3 === 0 ? 'win32' : 'linux',
    reportedAt: new Date(START + h * 1000).toISOString(),
    products: [{ id: 'arcserve-backup', release: '19.0' }],
    patches: [
      { id: `T5KB${String(h % 40).padStart(4, '0')}`, state: 'installed', since: '2026-10-01T00:00:00.000Z' },
    ],
    events: Array.from({ length: EVENTS_PER_HOST }, (_, i) => ({
      seq: i + 1,
      type: TYPES[(h + i) % TYPES.length],
      patchId: `T5KB${String((h + i) % 40).padStart(4, '0')}`,
      // spread over 30 days, interleaved across hosts
      at: new Date(START + ((h * 7919 + i * 104729) % (30 * 86_400)) * 1000).toISOString(),
      outcome: 'ok',
      message: '',
    })),
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function time(fn, runs) {
  const samples = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await fn();
    samples.push(performance.now() - t0);
  }
  return { ms: median(samples), rows: result.length };
}

const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-'));
try {
  const store = await ReportStore.open(dir);
  const kv = new Database(join(dir, 'keyv-style.sqlite'));
  kv.pragma('journal_mode = WAL');
  kv.exec('CREATE TABLE keyv (key VARCHAR(255) PRIMARY KEY, value TEXT)');
  const put = kv.prepare('INSERT INTO keyv (key, value) VALUES (?, ?)');
  const putBatch = kv.transaction((rows) => {
    for (const [key, value] of rows) put.run(key, value);
  });

  let t0 = performance.now();
  for (let h = 0; h < HOSTS; h += BATCH) {
    const reports = [];
    for (let i = h; i < Math.min(h + BATCH, HOSTS); i++) reports.push(hostReport(i));
    await store.ingestMany(reports);
    putBatch(
      reports.flatMap((r) =>
        r.events.map((e) => [
          `events:${r.hostId}:${e.seq}`,
          JSON.stringify({ value: { hostId: r.hostId, ...e }, expires: null }),
        ]),
      ),
    );
  }
  const fillSeconds = (performance.now() - t0) / 1000;

  const scanAll = kv.prepare("SELECT value FROM keyv WHERE key LIKE 'events:%'");
  const keyvStyle = (predicate, limit) => () => {
    const out = [];
    for (const row of scanAll.iterate()) {
      const { value } = JSON.parse(row.value);
      if (predicate(value)) out.push(value);
    }
    out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    return out.slice(0, limit);
  };

  const since = new Date(START + 29 * 86_400_000).toISOString();
  const cases = [
    ['newest 100', { limit: 100 }, () => true],
    ['host', { host: 'host-004242', limit: 100 }, (e) => e.hostId === 'host-004242'],
    ['patch (1 of 40), newest 100', { patch: 'T5KB0007', limit: 100 }, (e) => e.patchId === 'T5KB0007'],
    ['type, newest 100', { type: 'error', limit: 100 }, (e) => e.type === 'error'],
    ['since (last day), newest 1000', { since, limit: 1000 }, (e) => e.at >= since],
    [
      'host + since',
      { host: 'host-004242', since: '2026-10-01T00:00:00.000Z', limit: 100 },
      (e) => e.hostId === 'host-004242',
    ],
  ];

  console.log(
    `# ${HOSTS} hosts x ${EVENTS_PER_HOST} events; node ${process.version}; ${cpus().length} cpus (${cpus()[0]?.model ?? '?'})`,
  );
  console.log(`# fill (both stores, batches of ${BATCH} hosts): ${fillSeconds.toFixed(1)} s`);
  console.log('| query | SQLite indexed (median of 20) | keyv-style full scan (median of 3) | rows |');
  console.log('|---|---|---|---|');
  for (const [name, query, predicate] of cases) {
    const indexed = await time(() => store.history(query), 20);
    const scanned = await time(keyvStyle(predicate, query.limit), 3);
    if (indexed.rows !== scanned.rows) throw new Error(`${name}: ${indexed.rows} rows vs ${scanned.rows}`);
    console.log(`| ${name} | ${indexed.ms.toFixed(2)} ms | ${scanned.ms.toFixed(0)} ms | ${indexed.rows} |`);
  }
  t0 = performance.now();
  await store.countClients(new Date().toISOString());
  console.log(`# status client counts: ${(performance.now() - t0).toFixed(2)} ms`);
  await store.close();
  kv.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
