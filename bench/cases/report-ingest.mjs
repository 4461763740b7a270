// Report ingest: each of N simulated hosts PUTs one report (25 patch states, 10 events),
// 64 at a time, from a separate autocannon process. Lost = reports sent that the server does
// not have afterwards (counted in /v1/clients), whatever the HTTP answers said.
import { autocannonRun } from '../lib/load.mjs';
import { fmt } from '../lib/table.mjs';

const TARGET = 1_000;

async function clientCount(url) {
  const res = await fetch(`${url}/v1/clients?limit=1`);
  if (!res.ok) throw new Error(`GET /v1/clients: HTTP ${res.status}`);
  await res.arrayBuffer();
  return Number(res.headers.get('x-total-count'));
}

export async function reportIngest(ctx) {
  const { serve, opts } = ctx;
  const before = await clientCount(serve.url);
  const result = await autocannonRun({
    url: serve.url,
    connections: 64,
    amount: opts.hosts,
    reports: { patches: 25, events: 10 },
    duration: 120,
  });
  const stored = (await clientCount(serve.url)) - before;
  const ok = result.statuses['200'] ?? 0;
  const lost = opts.hosts - stored;
  const rate = ok / result.seconds;
  const answers = Object.entries(result.statuses)
    .map(([code, n]) => `${n}×${code}`)
    .join(', ');
  return [
    {
      case: `report ingest, ${opts.hosts.toLocaleString('en-US')} hosts, 64 conns`,
      figure: 'reports/s; lost',
      value: `${fmt.rate(ok, result.seconds, 'reports/s')}; ${lost} lost (${answers}${result.errors ? `, ${result.errors} errors` : ''})`,
      target: `≥ ${TARGET.toLocaleString('en-US')}/s, 0 lost`,
      met: rate >= TARGET && lost === 0,
      raw: result,
    },
  ];
}
