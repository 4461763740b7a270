// Coded errors of the HTTP layer, declared once with @fastify/error (as fastify's own
// lib/errors.js does): a caller branches on `err.code`, a log line says exactly what happened,
// and the error handler turns `statusCode` + `message` into the contract's error body.
import createError from '@fastify/error';
import { ErrorCodes, type ErrorCode } from '@patchbay/core';

/**
 * What every error declared here is an instance of, so the error handler tells a refusal we
 * worded from anything else thrown. `headers`: extra response headers, e.g. Content-Range on 416.
 */
export abstract class HttpError extends Error {
  declare readonly code: string;
  declare readonly statusCode: number;
  headers?: Record<string, string>;
}

/**
 * An error class for `code`: `message` is a util.format template (`%s` per argument, in order;
 * a literal percent sign is `%%`), `statusCode` the HTTP status it answers with.
 */
export function defineHttpError<A extends unknown[] = []>(code: string, statusCode: number, message: string) {
  // @fastify/error's constructors build on Base's prototype without calling it: instanceof holds
  return createError<string, number, A>(code, message, statusCode, HttpError as unknown as ErrorConstructor);
}

function withHeaders<E extends Error>(err: E, headers: Record<string, string>): E {
  return Object.assign(err, { headers });
}

const RangeNotSatisfiable = defineHttpError<[size: number]>(
  'PB_ERR_HTTP_RANGE_NOT_SATISFIABLE',
  416,
  "the requested range lies outside the blob's %s bytes",
);
const MethodNotAllowed = defineHttpError<[method: string, url: string, allow: string]>(
  'PB_ERR_HTTP_METHOD_NOT_ALLOWED',
  405,
  '%s is not allowed on %s: it answers %s',
);
const Unauthorized = defineHttpError<[reason: string]>('PB_ERR_HTTP_UNAUTHORIZED', 401, '%s');
const EventQuota = defineHttpError<[hostId: string, limit: number, retryAfterSeconds: number]>(
  'PB_ERR_HTTP_EVENT_QUOTA',
  429,
  'host "%s" has reported its %s new events for this 24-hour window (reports.hostEventsPerDay); ' +
    'send the report again in %s s [PB_ERR_HTTP_EVENT_QUOTA]',
);
const NotLeader = defineHttpError<[replica: string, what: string, leader: string]>(
  'PB_ERR_HTTP_NOT_LEADER',
  503,
  'replica %s does not run %s: the leader does (%s); send the request again to reach it, or let its schedule run',
);

export const HttpErrors = {
  MALFORMED_DIGEST: defineHttpError(
    'PB_ERR_HTTP_MALFORMED_DIGEST',
    400,
    'malformed digest: expected 64 lowercase hex characters',
  ),
  BLOB_NOT_FOUND: defineHttpError<[hex: string]>(
    'PB_ERR_HTTP_BLOB_NOT_FOUND',
    404,
    'blob sha256:%s is not in this mirror',
  ),
  NO_CATALOG: defineHttpError(
    'PB_ERR_HTTP_NO_CATALOG',
    503,
    'no catalog has been published yet: the first sync has not finished (see /v1/status)',
  ),
  RANGE_NOT_SATISFIABLE: (size: number) =>
    withHeaders(RangeNotSatisfiable(size), { 'content-range': `bytes */${size}` }),
  PRECONDITION_FAILED: defineHttpError<[what: string, etag: string]>(
    'PB_ERR_HTTP_PRECONDITION_FAILED',
    412,
    "%s does not meet the request's If-Match / If-Unmodified-Since: its current ETag is %s",
  ),
  METHOD_NOT_ALLOWED: (method: string, url: string, allow: readonly string[]) =>
    withHeaders(MethodNotAllowed(method, url, allow.join(', ')), { allow: allow.join(', ') }),
  HOST_MISMATCH: defineHttpError<[urlHostId: string, bodyHostId: string]>(
    'PB_ERR_HTTP_HOST_MISMATCH',
    400,
    'params/hostId "%s" does not match body/hostId "%s": a host reports only as itself',
  ),
  BAD_REPORT_FIELD: defineHttpError<[field: string, reason: string]>(
    'PB_ERR_HTTP_BAD_REPORT_FIELD',
    400,
    '%s %s',
  ),
  UNKNOWN_CLIENT: defineHttpError<[hostId: string]>(
    'PB_ERR_HTTP_UNKNOWN_CLIENT',
    404,
    'no report has been received from host "%s"',
  ),
  BAD_QUERY: defineHttpError<[field: string, reason: string]>(
    'PB_ERR_HTTP_BAD_QUERY',
    400,
    'querystring/%s %s',
  ),
  SYNC_IN_PROGRESS: defineHttpError(
    'PB_ERR_HTTP_SYNC_IN_PROGRESS',
    409,
    'a sync is already running; see /v1/status for its progress',
  ),
  NOT_LEADER: (replica: string, what: string, leader: string) =>
    withHeaders(NotLeader(replica, what, leader), { 'retry-after': '1' }),
  UNAUTHORIZED: (reason: string) =>
    withHeaders(Unauthorized(reason), { 'www-authenticate': 'Bearer realm="patchbay"' }),
  FORBIDDEN: defineHttpError<[reason: string]>('PB_ERR_HTTP_FORBIDDEN', 403, '%s'),
  RATE_LIMITED: defineHttpError<[what: string, retryAfter: string]>(
    'PB_ERR_HTTP_RATE_LIMITED',
    429,
    'too many requests for %s; retry in %s',
  ),
  // Report quotas (issue 14): the message names the limit, its config key and the code.
  CLOCK_SKEW: defineHttpError<[field: string, value: string, now: string, skewSeconds: number]>(
    'PB_ERR_HTTP_CLOCK_SKEW',
    400,
    "%s %s is ahead of the server's clock (%s) by more than %s s " +
      "(reports.maxClockSkewSeconds): check the host's clock [PB_ERR_HTTP_CLOCK_SKEW]",
  ),
  TOO_MANY_EVENTS: defineHttpError<[what: string, count: number, limit: number, key: string]>(
    'PB_ERR_HTTP_TOO_MANY_EVENTS',
    413,
    '%s holds %s events; at most %s are taken in one request (%s): send them in several [PB_ERR_HTTP_TOO_MANY_EVENTS]',
  ),
  EVENT_QUOTA: (hostId: string, limit: number, retryAfterSeconds: number) =>
    withHeaders(EventQuota(hostId, limit, retryAfterSeconds), { 'retry-after': String(retryAfterSeconds) }),
  // Same-origin and host checks of the admin routes (auth/same-origin.ts)
  UNKNOWN_HOST: defineHttpError<[host: string]>(
    'PB_ERR_HTTP_UNKNOWN_HOST',
    421,
    'Host "%s" is not a name this server answers to on this route: use its address, ' +
      'localhost, or a name listed in listen.allowedHosts',
  ),
  CROSS_ORIGIN: defineHttpError<[origin: string]>(
    'PB_ERR_HTTP_CROSS_ORIGIN',
    403,
    'Origin "%s" is not this server: state-changing requests from other sites are refused',
  ),
  NOT_JSON: defineHttpError<[contentType: string]>(
    'PB_ERR_HTTP_NOT_JSON',
    415,
    'Content-Type "%s" is not accepted here: admin requests take application/json (or no body)',
  ),
  BODY_TOO_DEEP: defineHttpError<[depth: number]>(
    'PB_ERR_HTTP_BODY_TOO_DEEP',
    400,
    'the request body is nested deeper than %s levels',
  ),
  // The served TUF repository (routes/tuf.ts)
  NO_TUF_REPOSITORY: defineHttpError(
    'PB_ERR_HTTP_NO_TUF_REPOSITORY',
    404,
    'this staging server mirrors no TUF repository (upstream.trustedRoot is not set)',
  ),
  TUF_METADATA_NOT_FOUND: defineHttpError<[name: string]>(
    'PB_ERR_HTTP_TUF_METADATA_NOT_FOUND',
    404,
    'TUF metadata %s is not served here',
  ),
  TUF_TARGET_NOT_FOUND: defineHttpError<[path: string]>(
    'PB_ERR_HTTP_TUF_TARGET_NOT_FOUND',
    404,
    'TUF target %s is not served here',
  ),
  GC_IN_PROGRESS: defineHttpError(
    'PB_ERR_HTTP_GC_IN_PROGRESS',
    409,
    'a garbage collection is already running',
  ),
  /** a rollup that would loop through this server (core's message names the chain) */
  MIRROR_LOOP: defineHttpError<[message: string]>(ErrorCodes.MIRROR_LOOP, 409, '%s'),
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
