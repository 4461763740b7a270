// Load generation in its own process: autocannon driven from a JSON spec on argv, its summary
// printed as one JSON line. Paths rotate across connections (one blob each), and `reports`
// makes every request a distinct host's report PUT.
//   node autocannon-worker.mjs '{"url":"http://127.0.0.1:8080","paths":["/v1/catalog"],...}'
import autocannon from 'autocannon';
import { hostReport } from './reports.mjs';

const spec = JSON.parse(process.argv[2]);
let next = 0;

const requests = spec.reports
  ? [
      {
        method: 'PUT',
        setupRequest: (request) => {
          const host = next++;
          const report = hostReport(host, spec.reports);
          return {
            ...request,
            path: `/v1/clients/${report.hostId}/report`,
            headers: { ...request.headers, 'content-type': 'application/json' },
            body: JSON.stringify(report),
          };
        },
      },
    ]
  : [{ setupRequest: (request) => ({ ...request, path: spec.paths[next++ % spec.paths.length] }) }];

const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration }),
  headers: spec.headers ?? {},
  requests,
  timeout: spec.timeoutSeconds ?? 30,
});

const statuses = {};
for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = Number(count);
console.log(
  JSON.stringify({
    tool: 'autocannon',
    seconds: result.duration,
    requests: Object.values(statuses).reduce((a, b) => a + b, 0),
    bytes: result.throughput.total,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
    bad: Object.entries(statuses).reduce((n, [code, count]) => n + (Number(code) >= 400 ? count : 0), 0),
    latencyP99Ms: result.latency.p99,
  }),
);
