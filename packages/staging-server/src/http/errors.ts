// Coded errors of the HTTP layer, declared once (as fastify's lib/errors.js does):
// a caller branches on `err.code`, a log line says exactly what happened, and the
// error handler turns `statusCode` + `message` into the contract's error body.
import { ErrorCodes, type ErrorCode } from '@patchbay/core';

export class HttpError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** extra response headers, e.g. Content-Range on 416 */
  readonly headers: Record<string, string>;

  constructor(code: string, statusCode: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

function defineError<A extends unknown[]>(code: string, statusCode: number, format: (...args: A) => string) {
  return (...args: A): HttpError => new HttpError(code, statusCode, format(...args));
}

export const HttpErrors = {
  MALFORMED_DIGEST: defineError(
    'PB_ERR_HTTP_MALFORMED_DIGEST',
    400,
    () => 'malformed digest: expected 64 lowercase hex characters',
  ),
  BLOB_NOT_FOUND: defineError(
    'PB_ERR_HTTP_BLOB_NOT_FOUND',
    404,
    (hex: string) => `blob sha256:${hex} is not in this mirror`,
  ),
  NO_CATALOG: defineError(
    'PB_ERR_HTTP_NO_CATALOG',
    503,
    () => 'no catalog has been published yet: the first sync has not finished (see /v1/status)',
  ),
  RANGE_NOT_SATISFIABLE: (size: number) =>
    new HttpError(
      'PB_ERR_HTTP_RANGE_NOT_SATISFIABLE',
      416,
      `the requested range lies outside the blob's ${size} bytes`,
      { 'content-range': `bytes */${size}` },
    ),
  PRECONDITION_FAILED: defineError(
    'PB_ERR_HTTP_PRECONDITION_FAILED',
    412,
    (what: string, etag: string) =>
      `${what} does not meet the request's If-Match / If-Unmodified-Since: its current ETag is ${etag}`,
  ),
  METHOD_NOT_ALLOWED: (method: string, url: string, allow: readonly string[]) =>
    new HttpError(
      'PB_ERR_HTTP_METHOD_NOT_ALLOWED',
      405,
      `${method} is not allowed on ${url}: it answers ${allow.join(', ')}`,
      { allow: allow.join(', ') },
    ),
  HOST_MISMATCH: defineError(
    'PB_ERR_HTTP_HOST_MISMATCH',
    400,
    (urlHostId: string, bodyHostId: string) =>
      `params/hostId "${urlHostId}" does not match body/hostId "${bodyHostId}": a host reports only as itself`,
  ),
  BAD_REPORT_FIELD: defineError(
    'PB_ERR_HTTP_BAD_REPORT_FIELD',
    400,
    (field: string, reason: string) => `${field} ${reason}`,
  ),
  UNKNOWN_CLIENT: defineError(
    'PB_ERR_HTTP_UNKNOWN_CLIENT',
    404,
    (hostId: string) => `no report has been received from host "${hostId}"`,
  ),
  BAD_QUERY: defineError(
    'PB_ERR_HTTP_BAD_QUERY',
    400,
    (field: string, reason: string) => `querystring/${field} ${reason}`,
  ),
  SYNC_IN_PROGRESS: defineError(
    'PB_ERR_HTTP_SYNC_IN_PROGRESS',
    409,
    () => 'a sync is already running; see /v1/status for its progress',
  ),
  UNAUTHORIZED: (reason: string) =>
    new HttpError('PB_ERR_HTTP_UNAUTHORIZED', 401, reason, {
      'www-authenticate': 'Bearer realm="patchbay"',
    }),
  FORBIDDEN: defineError('PB_ERR_HTTP_FORBIDDEN', 403, (reason: string) => reason),
  RATE_LIMITED: defineError(
    'PB_ERR_HTTP_RATE_LIMITED',
    429,
    (what: string, retryAfter: string) => `too many requests for ${what}; retry in ${retryAfter}`,
  ),
  // Report quotas (issue 14): the message names the limit, its config key and the code.
  CLOCK_SKEW: defineError(
    'PB_ERR_HTTP_CLOCK_SKEW',
    400,
    (field: string, value: string, now: string, skewSeconds: number) =>
      `${field} ${value} is ahead of the server's clock (${now}) by more than ${skewSeconds} s ` +
      `(reports.maxClockSkewSeconds): check the host's clock [PB_ERR_HTTP_CLOCK_SKEW]`,
  ),
  TOO_MANY_EVENTS: defineError(
    'PB_ERR_HTTP_TOO_MANY_EVENTS',
    413,
    (what: string, count: number, limit: number, key: string) =>
      `${what} holds ${count} events; at most ${limit} are taken in one request (${key}): ` +
      `send them in several [PB_ERR_HTTP_TOO_MANY_EVENTS]`,
  ),
  EVENT_QUOTA: (hostId: string, limit: number, retryAfterSeconds: number) =>
    new HttpError(
      'PB_ERR_HTTP_EVENT_QUOTA',
      429,
      `host "${hostId}" has reported its ${limit} new events for this 24-hour window ` +
        `(reports.hostEventsPerDay); send the report again in ${retryAfterSeconds} s ` +
        `[PB_ERR_HTTP_EVENT_QUOTA]`,
      { 'retry-after': String(retryAfterSeconds) },
    ),
} as const;

/**
 * HTTP status for a PatchbayError code raised below a route. Codes not listed are
 * server-side failures (500) whose details go to the log, not to the client.
 */
export const STATUS_BY_PATCHBAY_CODE: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.BAD_DIGEST]: 400,
  [ErrorCodes.UNSAFE_NAME]: 400,
  [ErrorCodes.FEED_SCHEMA]: 400,
  [ErrorCodes.FEED_NOT_JSON]: 400,
  [ErrorCodes.USAGE]: 400,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.UNKNOWN_PATCH]: 404,
  [ErrorCodes.UNKNOWN_PRODUCT]: 404,
  [ErrorCodes.SYNC_IN_PROGRESS]: 409,
  [ErrorCodes.LOCKED]: 409,
  [ErrorCodes.NO_CATALOG]: 503,
  [ErrorCodes.ABORTED]: 503,
  [ErrorCodes.HTTP_STATUS]: 502,
  [ErrorCodes.NETWORK]: 502,
};
