// The HTTP side of the metrics, observed from fastify hooks so that no route changes:
// request durations for every route (the 404 handler included), bytes of blob and
// catalog bodies, and the report route's outcomes.
//
// Bytes served are read in onResponse from the Content-Length each response sent: the
// blob route sets it to the range's length (206) and fastify to the buffer's for the
// catalog (gzip or identity), so the count is Range- and coding-aware at no cost on the
// streaming path. onResponse runs when the response finished; a transfer the client cut
// off counts nothing (its resume, a Range request, counts its own part) and is counted in
// patchbay_http_requests_aborted_total instead (onRequestAbort).
import type { FastifyInstance, FastifyReply, FastifyRequest, preSerializationHookHandler } from 'fastify';
import type { RejectReason, ServedKind, ServerMetrics } from './server-metrics.js';

const REPORT_ROUTE = '/v1/clients/:hostId/report';
const SERVED: ReadonlyMap<string, ServedKind> = new Map([
  ['/v1/blobs/sha256/*', 'blob'],
  ['/v1/catalog', 'catalog'],
]);
/** the route label of requests no route matched (the 404 handler): never the raw URL */
export const UNMATCHED_ROUTE = 'unmatched';

export function rejectReason(statusCode: number): RejectReason {
  switch (statusCode) {
    case 400:
      return 'invalid';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 413:
      return 'too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    default:
      return statusCode >= 500 ? 'server_error' : 'other';
  }
}

function sentLength(reply: FastifyReply): number {
  const length = Number(reply.getHeader('content-length'));
  return Number.isSafeInteger(length) && length > 0 ? length : 0;
}

/**
 * Call on the root instance before any route is registered: the hooks must reach every
 * route, and fastify copies a parent's hooks into a child plugin when it is registered.
 */
export function installMetrics(app: FastifyInstance, metrics: ServerMetrics): void {
  // The report route's answer { accepted } says how many of the body's events were new;
  // read before serialization, so report-ingest.ts needs no counter of its own.
  const countReport: preSerializationHookHandler<unknown> = (request, reply, payload, done) => {
    const answer = payload as { accepted?: unknown; conflicting?: unknown } | null;
    const accepted = answer?.accepted;
    const conflicting = typeof answer?.conflicting === 'number' ? answer.conflicting : 0;
    const events = (request.body as { events?: unknown } | undefined)?.events;
    if (reply.statusCode === 200 && typeof accepted === 'number') {
      metrics.reportsAccepted.inc();
      metrics.reportEventsStored.inc(accepted);
      if (conflicting > 0) metrics.reportEventsConflicting.inc(conflicting);
      if (Array.isArray(events) && events.length > accepted + conflicting)
        metrics.reportEventsDuplicate.inc(events.length - accepted - conflicting);
    }
    done(null, payload);
  };
  app.addHook('onRoute', (route) => {
    if (route.url !== REPORT_ROUTE || route.method !== 'PUT') return;
    const existing = route.preSerialization;
    route.preSerialization =
      existing === undefined
        ? [countReport]
        : [...(Array.isArray(existing) ? existing : [existing]), countReport];
  });

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const statusCode = reply.statusCode;
    metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(statusCode) },
      reply.elapsedTime / 1000,
    );
    const kind = SERVED.get(route);
    if (kind !== undefined && request.method === 'GET' && (statusCode === 200 || statusCode === 206))
      metrics.servedBytes.inc({ kind }, sentLength(reply));
    if (route === REPORT_ROUTE && request.method === 'PUT' && statusCode >= 400)
      metrics.reportsRejected.inc({ reason: rejectReason(statusCode) });
    done();
  });
  // The client went away before the answer was complete: onResponse never runs for it.
  app.addHook('onRequestAbort', (request: FastifyRequest, done) => {
    metrics.httpAborted.inc({ method: request.method, route: request.routeOptions.url ?? UNMATCHED_ROUTE });
    done();
  });
}
