// One log line per answered request ("request completed"). The answers every host gets on every
// poll are logged at debug, everything else at info: at fleet scale the routine lines were most
// of the log and a measurable share of a poll's CPU (docs/performance.md), and they tell nothing
// the metrics (every request counted by route and status) and the hosts' reports do not.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '@patchbay/core';

type Routine = (statusCode: number, request: FastifyRequest) => boolean;

/** tuf-js asks for root version N+1 on every refresh: a 404 until the root rotates */
const ROOT_PROBE = /^[1-9][0-9]*\.root\.json$/;

/** Route URL pattern -> its method and which of its answers are a polling host's routine. */
const ROUTINE: ReadonlyMap<string, { method: string; routine: Routine }> = new Map([
  // a TUF refresh: the next-root probe, timestamp.json (200, 304), the snapshot and roles it names
  [
    '/v1/tuf/metadata/:name',
    {
      method: 'GET',
      routine: (status, request) =>
        status === 200 ||
        status === 304 ||
        (status === 404 && ROOT_PROBE.test((request.params as { name?: string }).name ?? '')),
    },
  ],
  // trust v1's poll
  ['/v1/catalog', { method: 'GET', routine: (status) => status === 200 || status === 304 }],
  ['/v1/clients/:hostId/report', { method: 'PUT', routine: (status) => status === 200 }],
]);

/** True for a routine answer of a polling host (logged at debug, not info). */
export function isRoutineAnswer(request: FastifyRequest, statusCode: number): boolean {
  const url = request.routeOptions.url;
  const route = url === undefined ? undefined : ROUTINE.get(url);
  if (route === undefined) return false;
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  return method === route.method && route.routine(statusCode, request);
}

/**
 * Log each answer through `logger`, the process logger, not fastify's redacting child: the line
 * holds only what fastify's own request serializer logs (method, url, addresses, status), no
 * header and no body, and redaction's walk over every line was most of a poll's logging cost.
 */
export function installRequestLog(app: FastifyInstance, logger: Logger): void {
  app.addHook('onResponse', (request, reply, done) => {
    const level = isRoutineAnswer(request, reply.statusCode) ? 'debug' : 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level](
        {
          reqId: request.id,
          req: {
            method: request.method,
            url: request.url,
            host: request.host,
            remoteAddress: request.ip,
            remotePort: request.socket?.remotePort,
          },
          res: { statusCode: reply.statusCode },
          responseTime: reply.elapsedTime,
        },
        'request completed',
      );
    }
    done();
  });
}
