// A per-:hostId rate limit for @fastify/rate-limit's route config: counted at preParsing
// (after the token check at onRequest, before the body is parsed), so one sender's flood
// neither costs parsing nor touches another's budget; the 429 names the limit and its key.
import type { FastifyRequest } from 'fastify';
import { HttpErrors } from './errors.js';

const idOf = (request: FastifyRequest): string => (request.params as { hostId: string }).hostId;

/** `kind` keys the counter ("report", "rollup"); `what(id)` and `key` say what was limited. */
export function perIdRateLimit(options: {
  max: number;
  kind: string;
  what: (id: string) => string;
  key: string;
}) {
  return {
    max: options.max,
    timeWindow: 60_000,
    hook: 'preParsing' as const,
    keyGenerator: (request: FastifyRequest) => `${options.kind}:${idOf(request)}`,
    errorResponseBuilder: (request: FastifyRequest, context: { after: string; max: number }) =>
      HttpErrors.RATE_LIMITED(
        `${options.what(idOf(request))} (${options.key}: ${context.max} per minute)`,
        context.after,
      ),
  };
}
