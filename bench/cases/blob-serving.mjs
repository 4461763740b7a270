// Blob serving: 64 connections fetching the 16 MiB blobs in turn, from patchbay, from a bare
// node:http + createReadStream server over the same store files, from nginx serving those
// files, and from nginx as a caching proxy in front of patchbay (warm cache).
import path from 'node:path';
import { bareServer } from '../baselines/bare.mjs';
import { startNginx } from '../baselines/nginx.mjs';
import { loadTest } from '../lib/load.mjs';
import { installHint } from '../lib/tools.mjs';
import { fmt } from '../lib/table.mjs';

const CONNECTIONS = 64;
const TARGET = 0.6;

export async function blobServing(ctx) {
  const { serve, opts, tools, loadTool, work } = ctx;
  const paths = serve.feed.blobs.map((b) => `/v1/blobs/sha256/${b.sha256}`);
  const blobsDir = path.join(serve.dataDir, 'store', 'blobs', 'sha256');
  // At least 3 s: a 1 s run may end before 64 connections have finished a blob each.
  const duration = Math.max(3, opts.duration);
  const measure = (url) => loadTest({ tool: loadTool, url, paths, connections: CONNECTIONS, duration });
  const mibps = (r) => r.bytes / 2 ** 20 / r.seconds;
  const checked = (r, what) => {
    if (r.errors || r.bad || r.bytes === 0) {
      throw new Error(`${what}: ${r.requests} requests, ${r.bytes} bytes, ${r.errors} errors, ${r.bad} bad`);
    }
    return r;
  };

  const patchbay = checked(await measure(serve.url), 'patchbay blob serving');
  const bare = await bareServer('bare-blob-server.mjs', [blobsDir]);
  let node;
  try {
    node = checked(await measure(bare.url), 'bare node blob serving');
  } finally {
    await bare.stop();
  }

  let nginx = null;
  let proxied = null;
  if (tools.nginx) {
    const statics = await startNginx(tools.nginx, { mode: 'static', workDir: work, blobsDir });
    try {
      nginx = checked(await measure(statics.url), 'nginx blob serving');
    } finally {
      await statics.stop();
    }
    const proxy = await startNginx(tools.nginx, {
      mode: 'proxy',
      workDir: work,
      upstream: new URL(serve.url).host,
    });
    try {
      // Warm the cache: one full GET of each blob through the proxy, then check it is a HIT.
      for (const p of paths) {
        const res = await fetch(`${proxy.url}${p}`);
        await res.arrayBuffer();
      }
      const probe = await fetch(`${proxy.url}${paths[0]}`);
      await probe.arrayBuffer();
      const cacheStatus = probe.headers.get('x-cache-status');
      if (cacheStatus !== 'HIT')
        throw new Error(`nginx proxy cache did not warm: X-Cache-Status ${cacheStatus}`);
      proxied = checked(await measure(proxy.url), 'nginx proxy blob serving');
    } finally {
      await proxy.stop();
    }
  }

  const label = `blob serving, ${opts.blobCount} × ${fmt.mib(opts.blobBytes)}, ${CONNECTIONS} conns`;
  const skipped = `skipped: no nginx (${installHint(['nginx'])})`;
  return [
    {
      case: label,
      figure: 'patchbay',
      value: fmt.mibps(patchbay.bytes, patchbay.seconds),
      baseline: nginx ? `nginx ${fmt.mibps(nginx.bytes, nginx.seconds)}` : skipped,
      ratio: nginx ? fmt.ratio(mibps(patchbay), mibps(nginx)) : '—',
      target: `≥ ${TARGET}× nginx`,
      met: nginx ? mibps(patchbay) >= TARGET * mibps(nginx) : null,
    },
    {
      case: '',
      figure: 'patchbay vs bare node',
      value: fmt.mibps(patchbay.bytes, patchbay.seconds),
      baseline: `bare node ${fmt.mibps(node.bytes, node.seconds)}`,
      ratio: fmt.ratio(mibps(patchbay), mibps(node)),
    },
    {
      case: '',
      figure: 'nginx cache in front of patchbay (warm)',
      value: proxied ? fmt.mibps(proxied.bytes, proxied.seconds) : skipped,
      baseline: nginx ? `nginx ${fmt.mibps(nginx.bytes, nginx.seconds)}` : '—',
      ratio: proxied && nginx ? fmt.ratio(mibps(proxied), mibps(nginx)) : '—',
    },
  ];
}
