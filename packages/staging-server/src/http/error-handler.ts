// One place that turns anything thrown in a route into the contract's error body
// `{ statusCode, error, message }` (fastify's own shape), so clients see the same
// shape for a validation failure, an unknown route or a server fault.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, isPatchbayError } from '@patchbay/core';
import { isLostConnection } from '../database/postgres-reconnect.js';
import { HttpError, STATUS_BY_PATCHBAY_CODE } from './errors.js';
import { isRoutineAnswer } from './request-log.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  // PostgreSQL out of reach for a moment (a restart, a failover): 503, the host sends again.
  // Any other database error is ours (500): sending the same report again would not help.
  if (isPatchbayError(err, ErrorCodes.DATABASE)) return isLostConnection(err.cause) ? 503 : 500;
  if (isPatchbayError(err)) return STATUS_BY_PATCHBAY_CODE[err.code] ?? 500;
  const status = (err as Partial<FastifyError>).statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
}

export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const statusCode = statusOf(err);
  if (err instanceof HttpError && err.headers)
    for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
  // 4xx messages describe the client's mistake and are safe to return; a 5xx is our
  // fault, so its details go to the log only.
  if (statusCode >= 500) {
    request.log.error({ err }, 'request failed');
    const message = statusCode === 500 ? 'internal server error; see the server log' : (err as Error).message;
    return reply
      .code(statusCode)
      .type('application/json; charset=utf-8')
      .send(errorBody(statusCode, message));
  }
  // the next-root probe's 404 is every TUF poll's routine (request-log.ts): not worth a line at info
  request.log[isRoutineAnswer(request, statusCode) ? 'debug' : 'info'](
    { code: (err as { code?: string }).code, statusCode, reason: (err as Error).message },
    'request refused',
  );
  return reply
    .code(statusCode)
    .type('application/json; charset=utf-8')
    .send(errorBody(statusCode, (err as Error).message));
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(errorBody(404, `Route ${request.method}:${request.url} not found`)),
  );
}
