// Bounds on what one report may claim (issue 14): no time from the future, no more events
// than a request may carry. Reports come from hosts, so a bad clock or a hostile host must
// not leave a snapshot no later report can replace, nor fill the database in one request.
import { SERVER_CONFIG_DEFAULTS, type ClientReport, type ServerConfig } from '@patchbay/core';
import { HttpErrors } from '../http/errors.js';

type ReportLimitKey =
  | 'maxClockSkewSeconds'
  | 'maxEventsPerReport'
  | 'hostEventsPerDay'
  | 'maxEventsPerRollup'
  | 'rollupsPerMinute';

/** A reports.* limit; configs not made by loadServerConfig (tests) may lack the newer keys. */
export function reportLimit(config: ServerConfig, key: ReportLimitKey): number {
  return (config.reports as Partial<ServerConfig['reports']>)[key] ?? SERVER_CONFIG_DEFAULTS.reports[key];
}

/**
 * Throws CLOCK_SKEW (400) naming the first field, under `path`, dated later than `now` plus
 * `skewSeconds`: the report's reportedAt, then its events' `at`. Compared as instants.
 */
export function assertNotFromFuture(
  report: ClientReport,
  now: Date,
  skewSeconds: number,
  path = 'body',
): void {
  const limit = now.getTime() + skewSeconds * 1000;
  const refuse = (field: string, value: string) =>
    HttpErrors.CLOCK_SKEW(`${path}/${field}`, value, now.toISOString(), skewSeconds);
  if (Date.parse(report.reportedAt) > limit) throw refuse('reportedAt', report.reportedAt);
  report.events.forEach((event, index) => {
    if (Date.parse(event.at) > limit) throw refuse(`events/${index}/at`, event.at);
  });
}
