// The admin views and status page at fleet size, as an operator opens them after the fleet
// has reported: each fetched twice in a row (the first after the reports arrived, the second
// from whatever the server kept), timed to the last byte.

export const ADMIN_VIEWS = [
  ['/v1/status', 'GET /v1/status'],
  ['/', 'status page GET /'],
  ['/v1/clients?limit=500', 'GET /v1/clients, a page of 500'],
  ['/v1/clients', 'GET /v1/clients, whole'],
  ['/v1/reports/compliance?view=hosts&limit=100', 'GET /v1/reports/compliance?view=hosts, a page'],
  ['/v1/reports/compliance', 'GET /v1/reports/compliance'],
  ['/v1/reports/downloaded', 'GET /v1/reports/downloaded'],
  ['/v1/reports/installs?limit=1000', 'GET /v1/reports/installs, newest 1000'],
  ['/v1/reports/history?limit=1000', 'GET /v1/reports/history, newest 1000'],
];

const TIMEOUT_MS = 300_000;

async function timeOnce(url) {
  const started = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const bytes = (await res.arrayBuffer()).byteLength;
    return { ms: performance.now() - started, bytes, status: res.status };
  } catch (err) {
    return { ms: performance.now() - started, bytes: 0, status: err.name };
  }
}

/** path -> { cold, warm } ({ ms, bytes, status } each). */
export async function timeAdminViews(baseUrl, log) {
  const times = {};
  for (const [path, label] of ADMIN_VIEWS) {
    const cold = await timeOnce(`${baseUrl}${path}`);
    const warm = await timeOnce(`${baseUrl}${path}`);
    times[path] = { cold, warm };
    log(
      `  ${label}: ${Math.round(cold.ms)} / ${Math.round(warm.ms)} ms, ${cold.bytes} bytes, ${cold.status}`,
    );
  }
  return times;
}
