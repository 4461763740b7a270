// Who may call which route, in one table, so that a route nobody classified is not
// silently public: anything not listed needs the admin token (default deny).
//   open   — what every client needs before it has any credential: health, the signed
//            catalog, its signature, the keys and the content-addressed blobs
//   report — a host's own report: that host's token (auth.reportTokens)
//   rollup — a branch staging server's rollup: that branch's token (enroll --branch), always
//   read   — status, the fleet reports and /metrics: open when auth.publicStatus, else admin
//   admin  — POST /v1/sync and everything else
// A route may state its class itself with `config: { access: '...' }`.
export type RouteAccess = 'open' | 'report' | 'rollup' | 'read' | 'admin';

const OPEN_URLS = new Set([
  '/healthz',
  '/readyz',
  '/v1/catalog',
  '/v1/catalog.sig',
  '/v1/keys',
  '/v1/blobs/sha256/*',
]);
const READ_URLS = new Set(['/v1/status', '/v1/clients', '/v1/clients/:hostId', '/metrics']);

function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

export function accessOf(method: string | readonly string[], url: string): RouteAccess {
  const methods = typeof method === 'string' ? [method] : method;
  if (!methods.every(isRead)) {
    return methods.length === 1 && methods[0] === 'PUT' && url === '/v1/clients/:hostId/report'
      ? 'report'
      : 'admin';
  }
  if (OPEN_URLS.has(url)) return 'open';
  if (READ_URLS.has(url) || url.startsWith('/v1/reports/')) return 'read';
  return 'admin';
}

export function isRouteAccess(value: unknown): value is RouteAccess {
  return (
    value === 'open' || value === 'report' || value === 'rollup' || value === 'read' || value === 'admin'
  );
}
