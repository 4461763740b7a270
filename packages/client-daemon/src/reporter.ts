import {
  EVENT_MESSAGE_MAX_CHARS,
  EVENT_OUTPUT_MAX_CHARS,
  ErrorCodes,
  PATCH_REASON_MAX_CHARS,
  PatchbayError,
  errorMessage,
  failpoint,
  isPatchbayError,
} from '@patchbay/core';
import type { ClientConfig, ClientReport, Logger, ReportEvent, ReportPatch } from '@patchbay/core';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { withFailover } from './failover.js';
import { mailClientEvents } from './local-mailer.js';
import type { CatalogState } from './loaded-catalog.js';
import type { Ledger } from './ledger.js';
import { upstreamsFromConfig } from './upstream.js';
import type { Upstream } from './upstream.js';
import { DAEMON_VERSION } from './version.js';

/** Events per report body; a long outbox goes out in several PUTs. */
const MAX_EVENTS_PER_REPORT = 500;

export interface ReporterOptions {
  config: ClientConfig;
  ledger: Ledger;
  dispatcher?: Dispatcher;
  logger: Logger;
  timeoutMs: number;
  /** per-host report token (CONTRACT §5), sent as Authorization: Bearer */
  token?: string;
  /** the catalog in use: extension fields catalogSequence and catalogExpired */
  catalog?: CatalogState;
}

/** The report with this client's extension fields (servers ignore what they do not know). */
export interface ClientReportWithCatalog extends ClientReport {
  catalogSequence?: number;
  catalogExpired?: boolean;
}

export interface FlushResult {
  delivered: boolean;
  /** events the servers accepted in this flush */
  sent: number;
  /** events still waiting on disk */
  pending: number;
  server?: string;
  error?: string;
  /** a staging server refused this host's report (its token): the status, and its reason if it gave one */
  refused?: { status: 401 | 403; reason?: string };
  /** direct mode: no upstream takes reports, the events were acknowledged locally */
  local?: true;
}

/** The CONTRACT §2 report: patch states as last observed, events not yet acknowledged. */
export function buildReport(
  config: ClientConfig,
  ledger: Ledger,
  limit = MAX_EVENTS_PER_REPORT,
  catalog?: CatalogState,
): ClientReportWithCatalog {
  const report: ClientReportWithCatalog = {
    hostId: config.hostId,
    hostname: config.hostname,
    daemonVersion: DAEMON_VERSION,
    platform: process.platform,
    reportedAt: new Date().toISOString(),
    instanceId: ledger.instanceId,
    products: config.products.map((p) => ({ id: p.id, release: p.release })),
    patches: Object.entries(ledger.observed).map(([id, o]) => {
      // extension field `cached`: all of the patch's files are in the local verified cache
      const entry: ReportPatch = { id, state: o.state, since: o.since };
      // why failed / blocked / superseded (CONTRACT §2), bounded as the schema bounds it
      if (o.reason !== undefined) entry.reason = o.reason.slice(0, PATCH_REASON_MAX_CHARS);
      if (o.cached !== undefined) entry.cached = o.cached;
      return entry;
    }),
    events: ledger.pendingEvents(limit).map(withinBounds),
    pendingReboot: ledger.rebootFlag !== null,
  };
  if (catalog) {
    report.catalogSequence = catalog.sequence;
    if (catalog.expired) report.catalogExpired = true;
  }
  return report;
}

/**
 * An event cut to REPORT_SCHEMA's bounds: one overlong message (an installer's error text)
 * must not make the server refuse every report from now on, and the events behind it.
 */
function withinBounds(event: ReportEvent): ReportEvent {
  const long =
    (event.message?.length ?? 0) > EVENT_MESSAGE_MAX_CHARS ||
    (event.output?.length ?? 0) > EVENT_OUTPUT_MAX_CHARS;
  if (!long) return event;
  const bounded = { ...event };
  if (bounded.message !== undefined) bounded.message = bounded.message.slice(0, EVENT_MESSAGE_MAX_CHARS);
  if (bounded.output !== undefined) bounded.output = bounded.output.slice(-EVENT_OUTPUT_MAX_CHARS);
  return bounded;
}

async function putReport(server: Upstream, body: ClientReport, opts: ReporterOptions): Promise<void> {
  const url = `${server.url}/v1/clients/${encodeURIComponent(body.hostId)}/report`;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      body: JSON.stringify(body),
      dispatcher: opts.dispatcher,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  } catch (err) {
    throw new PatchbayError(ErrorCodes.NETWORK, `PUT ${url}: ${errorMessage(err)}`, { url }, { cause: err });
  }
  const text = await res.body.text();
  if (res.statusCode < 200 || res.statusCode >= 300) {
    throw new PatchbayError(
      ErrorCodes.HTTP_STATUS,
      `PUT ${url} answered ${res.statusCode}: ${text.slice(0, 200)}`,
      { url, status: res.statusCode, body: text.slice(0, 200) },
    );
  }
  warnConflicts(text, url, body, opts.logger);
}

/**
 * The server stored nothing under some of this report's (instanceId, seq) keys because other
 * events hold them (extension `conflicting`): a copied data dir, most likely. Said, not hidden.
 */
function warnConflicts(text: string, url: string, body: ClientReport, logger: Logger): void {
  let conflicting: unknown;
  try {
    conflicting = (JSON.parse(text) as { conflicting?: unknown }).conflicting;
  } catch {
    return;
  }
  if (typeof conflicting !== 'number' || conflicting <= 0) return;
  logger.warn(
    { url, conflicting, instanceId: body.instanceId, seqs: body.events.map((e) => e.seq) },
    'the staging server holds other events under some of these event numbers and did not store them; ' +
      'was this data directory copied from another host? Give each host its own data directory',
  );
}

/**
 * Send the report to the first staging server that answers. On 2xx the events in it
 * are acknowledged; on failure they stay in the ledger (on disk) and go out with the
 * next report. Resending is safe: servers keep each (hostId, instanceId, seq) once.
 */
export async function flushReports(opts: ReporterOptions): Promise<FlushResult> {
  // direct mode: the client mails its own events, and a publisher repository takes no report
  await mailClientEvents(opts.config, opts.ledger, opts.logger);
  const servers = upstreamsFromConfig(opts.config.server).filter((u) => u.takesReports);
  if (servers.length === 0) return keepReportsLocal(opts.ledger, opts.logger);
  let sent = 0;
  let server: string | undefined;
  try {
    await opts.ledger.saveIfDirty();
    // at least one PUT even with nothing pending: the patch states are news too
    do {
      failpoint('report:before-send');
      const report = buildReport(opts.config, opts.ledger, MAX_EVENTS_PER_REPORT, opts.catalog);
      const last = report.events.at(-1);
      const delivered = await withFailover(
        servers,
        'send report',
        (s) => putReport(s, report, opts),
        opts.logger,
      );
      server = delivered.upstream.url;
      // the server has the events, the ledger does not know yet: they go out again (deduplicated)
      if (last) failpoint('report:after-response');
      if (last) await opts.ledger.acknowledge(last.seq);
      sent += report.events.length;
    } while (opts.ledger.pendingEvents(1).length > 0);
    return { delivered: true, sent, pending: 0, server };
  } catch (err) {
    const pending = opts.ledger.pendingEvents().length;
    opts.logger.warn(
      { err: errorMessage(err), pending },
      'report not delivered; kept on disk for the next attempt',
    );
    const result: FlushResult = { delivered: false, sent, pending, error: errorMessage(err) };
    if (server) result.server = server;
    const refused = refusal(err);
    if (refused) result.refused = refused;
    return result;
  }
}

/** A 401 or 403 to the report: this host's token is refused, with the server's reason if it gave one. */
function refusal(err: unknown): FlushResult['refused'] {
  if (!isPatchbayError(err, ErrorCodes.HTTP_STATUS)) return undefined;
  const status = Number(err.context.status);
  if (status !== 401 && status !== 403) return undefined;
  const reason = serverReason(String(err.context.body ?? ''));
  return reason ? { status, reason } : { status };
}

/** The reason a server gave in its error body (`{"message": …}`, as fastify answers), if any. */
function serverReason(text: string): string | undefined {
  const body = text.trim();
  if (!body) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const message = (parsed as { message?: unknown } | null)?.message;
    if (typeof message === 'string' && message) return message;
  } catch {
    // cut at 200 characters, or not JSON: the message field if it is whole, else the text
    const quoted = /"message"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(body)?.[1];
    if (quoted) return quoted.replace(/\\(.)/g, '$1');
  }
  return body.startsWith('{') ? undefined : body;
}

/**
 * Direct mode (no upstream takes reports): nobody will ever take the report, so the events
 * are acknowledged locally instead of growing an outbox that is never delivered. The
 * ledger keeps them: `status` and `history` show them, and mails went out before this.
 */
async function keepReportsLocal(ledger: Ledger, logger: Logger): Promise<FlushResult> {
  const pending = ledger.pendingEvents();
  const last = pending.at(-1);
  if (last) {
    await ledger.acknowledge(last.seq);
    logger.debug({ events: pending.length }, 'direct mode: events kept locally (no staging server)');
  }
  return { delivered: true, sent: 0, pending: 0, local: true };
}
