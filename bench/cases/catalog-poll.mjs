// Catalog poll: GET /v1/catalog as a fleet polls it — If-None-Match with the current ETag
// (304), and a fresh fetch with gzip (200) — against a bare node:http server holding the same
// bytes in memory.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { bareServer } from '../baselines/bare.mjs';
import { loadTest } from '../lib/load.mjs';
import { fmt } from '../lib/table.mjs';

const TARGET_304 = 10_000;

export async function catalogPoll(ctx) {
  const { serve, opts, work, loadTool } = ctx;
  const res = await fetch(`${serve.url}/v1/catalog`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const etag = res.headers.get('etag');
  const catalogFile = path.join(work, 'catalog.json');
  writeFileSync(catalogFile, bytes);
  // fetch() would inflate the body: ask node:http for the bytes on the wire.
  const gzipBytes = await new Promise((resolve, reject) => {
    http
      .get(`${serve.url}/v1/catalog`, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
        let n = 0;
        r.on('data', (d) => (n += d.length)).on('end', () => resolve(n));
      })
      .on('error', reject);
  });
  ctx.log(
    `catalog: ${fmt.mib(bytes.length)} (${bytes.length} bytes), gzip ${gzipBytes} bytes, ${opts.patches} patches`,
  );

  const variants = {
    304: { 'if-none-match': etag, 'accept-encoding': 'gzip' },
    200: { 'accept-encoding': 'gzip' },
  };
  const measure = async (url, headers) =>
    loadTest({
      tool: loadTool,
      url,
      paths: ['/v1/catalog'],
      connections: 64,
      duration: opts.duration,
      headers,
    });

  const patchbay = {};
  for (const [status, headers] of Object.entries(variants))
    patchbay[status] = await measure(serve.url, headers);
  const bare = await bareServer('bare-catalog-server.mjs', [catalogFile]);
  const baseline = {};
  try {
    for (const [status, headers] of Object.entries(variants))
      baseline[status] = await measure(bare.url, headers);
  } finally {
    await bare.stop();
  }

  const rps = (r) => r.requests / r.seconds;
  const note = (r) => (r.errors || r.bad ? ` (${r.errors} errors, ${r.bad} bad statuses)` : '');
  return [
    {
      case: `catalog poll, ${opts.patches.toLocaleString('en-US')} patches`,
      figure: '304 (If-None-Match)',
      value: fmt.rate(patchbay[304].requests, patchbay[304].seconds, 'req/s') + note(patchbay[304]),
      baseline: `bare node ${fmt.rate(baseline[304].requests, baseline[304].seconds, 'req/s')}`,
      ratio: fmt.ratio(rps(patchbay[304]), rps(baseline[304])),
      target: `≥ ${TARGET_304.toLocaleString('en-US')} req/s`,
      met: rps(patchbay[304]) >= TARGET_304,
      raw: { patchbay, baseline },
    },
    {
      case: '',
      figure: `200 gzip (${(gzipBytes / 1024).toFixed(0)} KiB)`,
      value: fmt.rate(patchbay[200].requests, patchbay[200].seconds, 'req/s') + note(patchbay[200]),
      baseline: `bare node ${fmt.rate(baseline[200].requests, baseline[200].seconds, 'req/s')}`,
      ratio: fmt.ratio(rps(patchbay[200]), rps(baseline[200])),
    },
  ];
}
