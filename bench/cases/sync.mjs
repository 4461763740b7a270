// Sync: `patchbay-server sync` of N files from the reference upstream into an empty store
// (download, SHA-256, fsync, rename, publish), against the two limits it cannot beat: curl
// fetching the same files from the same upstream, 4 in parallel like the sync (transfer
// limit), and `openssl dgst -sha256` over them (hash limit). Target: 0.8× the slower.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, runOk } from '../lib/procs.mjs';
import { startUpstream, writeServerConfig } from '../lib/stack.mjs';
import { writeSyncFeed } from '../lib/fixtures.mjs';
import { installHint } from '../lib/tools.mjs';
import { fmt } from '../lib/table.mjs';

const TARGET = 0.8;
const CONCURRENCY = 4;

export async function syncCase(ctx) {
  const { opts, tools, work } = ctx;
  const feedDir = path.join(work, 'sync-feed');
  const feed = await writeSyncFeed(feedDir, { count: opts.syncFiles, totalBytes: opts.syncBytes });
  const upstream = await startUpstream(feedDir);
  const rows = [];
  try {
    const serverDir = path.join(work, 'sync-server');
    const config = writeServerConfig(serverDir, {
      upstreamUrl: upstream.url,
      products: [{ id: 'bench-sync', releases: ['1.0'] }],
      extra: { upstream: { url: `${upstream.url}/`, concurrency: CONCURRENCY, retries: 1 } },
    });
    const sync = await runOk(process.execPath, [BIN.server, '--config', config, 'sync', '--json'], {
      cwd: serverDir,
      env: { PATCHBAY_LOG_LEVEL: 'info' },
      watchRss: true,
      timeoutMs: 600_000,
    });
    const report = JSON.parse(sync.stdout);
    if (report.outcome !== 'ok') throw new Error(`sync ended "${report.outcome}": ${report.error ?? ''}`);
    rmSync(path.join(serverDir, 'server-data'), { recursive: true, force: true });
    const patchbayRate = feed.bytes / (sync.ms / 1000);

    let curl = null;
    if (tools.curl) {
      const out = path.join(work, 'curl-out');
      mkdirSync(out, { recursive: true });
      const args = [
        '-sS',
        '--fail',
        '--parallel',
        '--parallel-max',
        String(CONCURRENCY),
        '--output-dir',
        out,
      ];
      for (const name of feed.names) args.push('-o', name, `${upstream.url}/files/${name}`);
      curl = await runOk(tools.curl, args, { timeoutMs: 600_000 });
      rmSync(out, { recursive: true, force: true });
    }
    let openssl = null;
    if (tools.openssl) {
      openssl = await runOk(
        tools.openssl,
        ['dgst', '-sha256', ...feed.names.map((n) => path.join(feedDir, 'files', n))],
        {
          timeoutMs: 600_000,
        },
      );
    }
    // The disk's durable write rate, for the explanation (a sync fsyncs every blob; curl does not).
    const disk = await runOk(
      process.execPath,
      [
        path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'baselines', 'durable-writer.mjs'),
        path.join(work, 'disk-out'),
        String(feed.size),
        String(opts.syncFiles),
        String(CONCURRENCY),
      ],
      { timeoutMs: 600_000 },
    );
    rmSync(path.join(work, 'disk-out'), { recursive: true, force: true });
    const limits = [
      curl && { name: 'curl', rate: feed.bytes / (curl.ms / 1000) },
      openssl && { name: 'openssl', rate: feed.bytes / (openssl.ms / 1000) },
    ].filter(Boolean);
    const slower = limits.length === 2 ? limits.reduce((a, b) => (a.rate < b.rate ? a : b)) : null;
    const missing = ['curl', 'openssl'].filter((t) => !tools[t]);
    const mibps = (rate) => `${(rate / 2 ** 20).toFixed(0)} MiB/s`;
    const diskNote = `; write+fsync ${mibps(feed.bytes / (disk.ms / 1000))} (reference)`;
    rows.push({
      case: `sync, ${fmt.mib(feed.bytes)} in ${opts.syncFiles} files`,
      figure: 'MiB/s (whole command)',
      value: `${mibps(patchbayRate)} (${fmt.ms(sync.ms)}, peak RSS ${fmt.mib(sync.peakRss)})`,
      baseline:
        limits.map((l) => `${l.name} ${mibps(l.rate)}`).join('; ') +
        (missing.length ? `${limits.length ? '; ' : ''}skipped: ${installHint(missing)}` : '') +
        diskNote,
      ratio: slower ? `${fmt.ratio(patchbayRate, slower.rate)} of ${slower.name}` : '—',
      target: `≥ ${TARGET}× the slower`,
      met: slower ? patchbayRate >= TARGET * slower.rate : null,
    });
  } finally {
    await upstream.stop();
    rmSync(feedDir, { recursive: true, force: true });
  }
  return rows;
}
