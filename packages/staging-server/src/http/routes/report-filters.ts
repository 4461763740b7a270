// The filters every report takes (host, patch, severity, release, since, until) and
// the CSV reply, shared by the report routes.
import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import type { Severity } from '@patchbay/core';
import { HttpErrors } from '../errors.js';

export const SEVERITIES: readonly Severity[] = ['critical', 'recommended', 'optional'];

export const formatProperty = { type: 'string', enum: ['json', 'csv'], default: 'json' } as const;

/** JSON Schema properties of the common filters (times are checked by parseTimeRange). */
export const reportFilterProperties = {
  host: { type: 'string', minLength: 1 },
  patch: { type: 'string', minLength: 1 },
  severity: { type: 'string', enum: [...SEVERITIES] },
  release: { type: 'string', minLength: 1 },
  since: { type: 'string' },
  until: { type: 'string' },
  format: formatProperty,
} as const;

export interface ReportFilterQuerystring {
  host?: string;
  patch?: string;
  severity?: Severity;
  release?: string;
  since?: string;
  until?: string;
  format: 'json' | 'csv';
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** ISO instant (as stored) of an RFC 3339 query parameter; 400 naming it otherwise. */
export function parseInstant(name: string, value: string): string {
  const ms = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw HttpErrors.BAD_QUERY(name, 'must be an RFC 3339 date-time, e.g. 2026-11-24T10:00:00Z');
  return new Date(ms).toISOString();
}

/** `since` (inclusive) and `until` (exclusive) as ISO instants; 400 when invalid or reversed. */
export function parseTimeRange(query: { since?: string; until?: string }): {
  since?: string;
  until?: string;
} {
  const range: { since?: string; until?: string } = {};
  if (query.since !== undefined) range.since = parseInstant('since', query.since);
  if (query.until !== undefined) range.until = parseInstant('until', query.until);
  if (range.since !== undefined && range.until !== undefined && range.until <= range.since)
    throw HttpErrors.BAD_QUERY('until', `must be later than since (${range.since})`);
  return range;
}

/** True when `at` (ISO instant or null) lies in [since, until). Null lies in no bounded range. */
export function inTimeRange(at: string | null, range: { since?: string; until?: string }): boolean {
  if (range.since === undefined && range.until === undefined) return true;
  if (at === null) return false;
  const instant = Date.parse(at);
  if (Number.isNaN(instant)) return false;
  if (range.since !== undefined && instant < Date.parse(range.since)) return false;
  if (range.until !== undefined && instant >= Date.parse(range.until)) return false;
  return true;
}

export function sendCsv(reply: FastifyReply, fileName: string, body: string | Readable): FastifyReply {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${fileName}"`)
    .send(body);
}
