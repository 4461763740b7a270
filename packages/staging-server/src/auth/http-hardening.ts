// HTTP hardening that does not belong to any one route: security headers, the rate
// limiter's registration, timeouts and log redaction.
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger, ServerConfig } from '@patchbay/core';

/**
 * Log fields that may hold a secret. Fastify's request serializer logs no headers, but
 * a handler or plugin that logs `headers`, a config or an error context must not leak
 * the bearer tokens, cookies, the admin token or the SMTP password either.
 */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'request.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'token',
  '*.token',
  'adminToken',
  '*.adminToken',
  '*.*.adminToken',
  'pass',
  '*.pass',
  '*.*.pass',
  '*.*.*.pass',
  // notify.smtp.auth.pass, one level deeper when a whole config is logged
  '*.*.*.*.pass',
  'password',
  '*.password',
];

/** A child of the process logger that censors LOG_REDACT_PATHS. */
export function redactingLogger(logger: Logger): FastifyBaseLogger {
  return logger.child({}, { redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } }) as FastifyBaseLogger;
}

/** Fastify's timeout options from listen.requestTimeoutSeconds (default 30). */
export function timeoutOptions(listen: Partial<ServerConfig['listen']>): {
  requestTimeout: number;
  connectionTimeout: number;
  keepAliveTimeout: number;
} {
  const ms = (listen.requestTimeoutSeconds ?? 30) * 1000;
  return {
    // The whole request (headers and body) must arrive within this: slow-loris defence.
    requestTimeout: ms,
    // A socket idle this long is closed; a steady blob download is never idle.
    connectionTimeout: ms,
    // Idle keep-alive sockets are cheap but not free; clients reconnect within seconds.
    keepAliveTimeout: Math.min(10_000, ms),
  };
}

/** The helmet options: the same for every route (the status page sets its own CSP). */
function helmetOptions(tls: boolean) {
  return {
    // The API serves JSON, CSV and octet streams, never a page: nothing may load or
    // frame anything, which breaks no consumer of these types.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    // HSTS over plain HTTP is ignored by browsers and wrong to promise: only with TLS.
    hsts: tls ? ({ maxAge: 31_536_000, includeSubDomains: false } as const) : (false as const),
  };
}

/** Headers fastify itself puts on the probe's answer: not helmet's. */
const NOT_HELMET = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/**
 * The security headers helmet sets with these options, asked of helmet once. @fastify/helmet
 * rebuilds helmet's whole middleware chain (CSP string included) on every request, which
 * cost about a tenth of a catalog 304 (docs/performance.md); the headers never change.
 */
export async function securityHeaders(tls: boolean): Promise<Record<string, string>> {
  const probe = Fastify();
  try {
    await probe.register(helmet, helmetOptions(tls));
    probe.get('/', (_request, reply) => reply.send(''));
    const res = await probe.inject({ method: 'GET', url: '/' });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (!NOT_HELMET.has(name) && typeof value === 'string') headers[name] = value;
    }
    return headers;
  } finally {
    await probe.close();
  }
}

/**
 * Security headers and the rate limiter. Register before the routes: the hook and the
 * limiter apply to routes as they are defined. The limiter is per route (global: false):
 * only the report route sets `config.rateLimit`.
 */
export async function registerHardening(app: FastifyInstance, config: ServerConfig): Promise<void> {
  const headers = Object.entries(await securityHeaders(Boolean(config.listen.tls)));
  // On every answer, errors and 404s included; a route may still replace one (reply.header).
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
  await app.register(rateLimit, { global: false });
}
