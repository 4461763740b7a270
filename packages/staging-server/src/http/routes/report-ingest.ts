// PUT /v1/clients/:hostId/report — a client daemon's report. Validated exactly as sent
// against core's REPORT_SCHEMA, then stored in one transaction; idempotent per
// (hostId, instanceId, seq), so a client may resend a report it is unsure was delivered.
// Who may report is decided before this route runs: auth/access.ts classes it
// 'report' (the host's own bearer token, auth.reportTokens).
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import { errorMessage, HOST_ID_PATTERN, REPORT_SCHEMA, type ClientReport } from '@patchbay/core';
import { isNotifiableEvent } from '../../notify/events.js';
import { assertNotFromFuture, reportLimit } from '../../reports/report-limits.js';
import { EventQuota } from '../../reports/event-quota.js';
import { HttpErrors } from '../errors.js';
import { perIdRateLimit } from '../per-id-rate-limit.js';
import { strictValidatorCompiler } from '../strict-validator.js';
import type { HttpDeps } from '../deps.js';
import type { IngestResult } from '../../reports/types.js';

/** The URL's hostId obeys the same rule as the body's (core's HOST_ID_PATTERN). */
const hostIdParamsSchema = {
  type: 'object',
  required: ['hostId'],
  properties: { hostId: { type: 'string', pattern: HOST_ID_PATTERN } },
} as const;

/** ISO instant of an RFC 3339 string, or null when it is not a time. */
export function toInstant(value: string): string | null {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/**
 * Normalise the times that the store sorts and compares as text (event `at`, the
 * report's `reportedAt`), so that "…+02:00" and "…Z" order correctly. `field` is where the
 * report sits in the request body, for the field an error names (a rollup's host entry).
 */
export function normaliseReport(report: ClientReport, field = 'body'): ClientReport {
  const reportedAt = toInstant(report.reportedAt);
  if (reportedAt === null)
    throw HttpErrors.BAD_REPORT_FIELD(`${field}/reportedAt`, 'must be an RFC 3339 date-time');
  const events = report.events.map((event, index) => {
    const at = toInstant(event.at);
    if (at === null)
      throw HttpErrors.BAD_REPORT_FIELD(`${field}/events/${index}/at`, 'must be an RFC 3339 date-time');
    // Daemons send toISOString() times: such an event is kept as parsed, not copied.
    return at === event.at ? event : { ...event, at };
  });
  // One state per patch: a second entry for the same id would make the stored state depend on
  // which copy won, so the report is refused (400, never stored) rather than guessed at.
  const seen = new Set<string>();
  report.patches.forEach((patch, index) => {
    if (seen.has(patch.id))
      throw HttpErrors.BAD_REPORT_FIELD(
        `${field}/patches/${index}/id`,
        `names patch ${patch.id} a second time`,
      );
    seen.add(patch.id);
  });
  return { ...report, reportedAt, events };
}

/**
 * Nothing a host reports is dropped unsaid: a host id reporting from a new client instance
 * (re-imaged, data dir re-created, or a second machine with the same id) and an event
 * whose key is taken by a different one are logged at warn.
 */
export function logInstanceAndConflicts(log: FastifyBaseLogger, hostId: string, result: IngestResult): void {
  const fresh = result.newInstance;
  if (fresh !== undefined && fresh.previous.length > 0) {
    log.warn(
      { hostId, instanceId: fresh.instanceId, previousInstances: fresh.previous },
      'host reports from a new client instance (re-imaged, data dir re-created, or two hosts share the id); its events are kept apart by instance',
    );
  } else if (fresh !== undefined && fresh.knownHost) {
    log.info({ hostId, instanceId: fresh.instanceId }, 'host now reports its client instance id');
  }
  for (const c of result.conflicts) {
    log.warn(
      { hostId, instanceId: c.instanceId, seq: c.seq, stored: c.stored, sent: c.sent },
      'event not stored: another event with different content holds its (hostId, instanceId, seq)',
    );
  }
}

export const reportIngestRoutes: FastifyPluginAsync<HttpDeps> = async (
  app,
  { store, config, mirror, notifier, now = () => new Date() },
) => {
  const skewSeconds = reportLimit(config, 'maxClockSkewSeconds');
  const maxEvents = reportLimit(config, 'maxEventsPerReport');
  const quota = new EventQuota(reportLimit(config, 'hostEventsPerDay'), now);
  app.route<{ Params: { hostId: string }; Body: ClientReport }>({
    method: 'PUT',
    url: '/v1/clients/:hostId/report',
    bodyLimit: config.reports.maxBodyBytes,
    config: {
      // Per host, counted after the token check (auth/guard.ts runs at onRequest) and
      // before the body is parsed, so one host's flood neither costs parsing nor
      // touches another host's budget.
      rateLimit: perIdRateLimit({
        max: config.reports.rateLimitPerMinute ?? 60,
        kind: 'report',
        what: (id) => `host "${id}" reports`,
        key: 'reports.rateLimitPerMinute',
      }),
    },
    validatorCompiler: strictValidatorCompiler,
    schema: {
      params: hostIdParamsSchema,
      body: REPORT_SCHEMA,
    },
    handler: async (request, reply) => {
      const { hostId } = request.params;
      if (request.body.hostId !== hostId) throw HttpErrors.HOST_MISMATCH(hostId, request.body.hostId);
      if (request.body.events.length > maxEvents)
        throw HttpErrors.TOO_MANY_EVENTS(
          `the report of host "${hostId}"`,
          request.body.events.length,
          maxEvents,
          'reports.maxEventsPerReport',
        );
      const report = normaliseReport(request.body);
      // A time from the future would hold the snapshot against every later report.
      assertNotFromFuture(report, now(), skewSeconds);
      // 429 rather than a drop: the client keeps the events on disk and sends them again.
      quota.check(hostId, report.events.length);
      // Shares its commit with reports arriving at the same time; answers once it is stored.
      const result = await store.ingestSoon(report);
      quota.record(hostId, result.accepted);
      // Only events this report newly stored are mailed, so a resent report mails nothing.
      const notifiable = result.stored.filter(isNotifiableEvent);
      if (notifier?.enabled && notifiable.length > 0) {
        // Queues mail in memory and returns: the answer never waits on SMTP.
        try {
          notifier.onReport(
            { hostId, hostname: report.hostname ?? hostId },
            notifiable,
            mirror.current()?.catalog ?? null,
          );
        } catch (err) {
          request.log.error({ err: errorMessage(err) }, 'notify: could not queue the report mail');
        }
      }
      logInstanceAndConflicts(request.log, hostId, result);
      // routine, like the request's own line (http/request-log.ts): info would be a line per host per poll
      request.log.debug(
        {
          hostId,
          events: report.events.length,
          accepted: result.accepted,
          snapshotReplaced: result.snapshotReplaced,
        },
        'report stored',
      );
      // extension: `conflicting` tells the client that some events were not stored
      return reply
        .code(200)
        .send(
          result.conflicts.length > 0
            ? { accepted: result.accepted, conflicting: result.conflicts.length }
            : { accepted: result.accepted },
        );
    },
  });
};
