// The branch side of the report rollup: forwards what its clients reported to the parent
// staging server, batch by batch, moving the cursor only after the parent's 200. A
// delivery that fails (parent down, 5xx, 401, a loop) keeps everything pending and is
// retried with backoff; nothing is dropped. Only a host the parent refuses by name (it
// reports there directly, or through another branch) is skipped, and said so. A batch the
// parent finds too large (413) is split, down to one host with one event; a host that does not
// fit even so is skipped with its events, recorded in `skipped` and logged, so the rest of the
// branch keeps flowing.
import { readFile } from 'node:fs/promises';
import { request, type Dispatcher } from 'undici';
import { ErrorCodes, errorMessage, PatchbayError, type Logger, type RollupConfig } from '@patchbay/core';
import {
  BatchBuilder,
  DEFAULT_BATCH_LIMITS,
  type BatchLimits,
  type RollupBatch,
  type RollupSource,
} from './rollup-batch.js';
import { RollupCursorFile } from './rollup-cursor.js';
import { writeRollupStatus, type RollupSkipped, type RollupStatus } from './rollup-status.js';
import { ROLLUP_FORMAT, rollupPath, type RollupAnswer, type RollupBody } from './rollup-protocol.js';

export interface RollupSenderOptions {
  config: RollupConfig;
  dataDir: string;
  /** the report store the rollup reads from */
  reports: RollupSource & { lastEventId(): Promise<number>; lastSeenMax(): Promise<string | null> };
  /** this mirror's key fingerprint (the parent refuses a rollup that would loop) */
  fingerprint: string;
  logger: Logger;
  dispatcher?: Dispatcher;
  limits?: BatchLimits;
  /** ms per request before it counts as failed */
  timeoutMs?: number;
  /** first retry delay after a failure (doubles, capped at maxRetryMs) */
  retryBaseMs?: number;
  maxRetryMs?: number;
}

const DEFAULT_RETRY_BASE_MS = 30_000;
const DEFAULT_MAX_RETRY_MS = 15 * 60_000;
/** An answer body larger than this is not a rollup answer. */
const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_SKIPPED_KEPT = 50;

function isTooLarge(err: unknown): err is PatchbayError {
  return err instanceof PatchbayError && err.code === ErrorCodes.HTTP_STATUS && err.context.status === 413;
}

/** Half of what the refused batch held: its bytes and the events it read (at least one host, one event). */
function narrowed(limits: BatchLimits, batch: RollupBatch): BatchLimits {
  return {
    maxBytes: Math.max(1, Math.floor(Math.min(limits.maxBytes, batch.bytes) / 2)),
    maxEvents: Math.max(1, Math.floor(Math.min(limits.maxEvents, batch.eventsRead) / 2)),
  };
}

export class RollupSender {
  private readonly cursorFile: RollupCursorFile;
  private readonly target: string;
  private readonly log: Logger;
  private running: Promise<void> | null = null;
  private retryAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** what the last successful run left: nothing new since means nothing to do */
  private seen: { eventId: number; lastSeen: string | null } | null = null;
  private readonly state: RollupStatus;
  /** hostId -> the snapshot (lastSeenAt) too large for the parent: passed over until it changes */
  private readonly unsendable = new Map<string, string>();
  /** why a host just became unsendable, for the record made when the builder passes it over */
  private readonly pendingSkip = new Map<string, { bytes: number; error: string }>();

  constructor(private readonly opts: RollupSenderOptions) {
    this.cursorFile = new RollupCursorFile(opts.dataDir);
    this.target = `${opts.config.url.replace(/\/+$/, '')}${rollupPath(opts.config.branchId)}`;
    this.log = opts.logger.child({ component: 'rollup', parent: this.target });
    this.state = {
      parent: opts.config.url,
      branchId: opts.config.branchId,
      lastAttemptAt: null,
      lastSuccessAt: null,
      error: null,
      failures: 0,
      nextRetryAt: null,
      lastRun: null,
      skipped: [],
    };
  }

  status(): RollupStatus {
    return structuredClone(this.state);
  }

  /** Start the cheap pending check every rollup.intervalSeconds (and run one now). */
  start(): void {
    const seconds = this.opts.config.intervalSeconds;
    void this.runIfDue('start');
    if (seconds === null) return;
    this.timer = setInterval(() => void this.runIfDue('interval'), seconds * 1000);
    this.timer.unref();
  }

  /** A run unless one is running, a retry is not due yet, or nothing changed since the last success. */
  async runIfDue(reason: string): Promise<void> {
    if (this.closed || this.running || Date.now() < this.retryAt) return;
    // Unreadable: the run finds out again, and records it with a retry.
    const seen = await this.reported().catch(() => null);
    if (seen && this.seen && this.seen.eventId === seen.eventId && this.seen.lastSeen === seen.lastSeen)
      return;
    await this.run(reason);
  }

  /** One rollup of everything pending; resolves when it ends (never rejects: failures are in status()). */
  run(reason: string): Promise<void> {
    if (this.running) return this.running;
    this.running = this.runOnce(reason).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runOnce(reason: string): Promise<void> {
    const startedAt = new Date();
    this.state.lastAttemptAt = startedAt.toISOString();
    const figures = { requests: 0, hosts: 0, accepted: 0, refused: [] as RollupAnswer['refused'] };
    try {
      const seen = await this.reported();
      let cursor = await this.cursorFile.read(this.target);
      const full = this.opts.limits ?? DEFAULT_BATCH_LIMITS;
      let limits = full;
      const builder = await BatchBuilder.open(this.opts.reports, full);
      const next = (): Promise<RollupBatch | null> => builder.next(cursor, limits, this.unsendable);
      for (let batch = await next(); batch !== null && !this.closed; batch = await next()) {
        for (const passed of batch.passedOver) this.recordPassedOver(passed);
        if (batch.hosts.length > 0) {
          let answer: RollupAnswer;
          try {
            answer = await this.send({
              format: ROLLUP_FORMAT,
              branchId: this.opts.config.branchId,
              mirror: this.opts.fingerprint,
              sentAt: new Date().toISOString(),
              hosts: batch.hosts,
            });
          } catch (err) {
            if (!isTooLarge(err)) throw err;
            if (batch.hosts.length > 1 || batch.eventsRead > 1) {
              limits = narrowed(limits, batch);
              this.log.info(
                { hosts: batch.hosts.length, bytes: batch.bytes, events: batch.eventsRead, limits },
                'the parent found the rollup batch too large (413); splitting it',
              );
            } else {
              this.markUnsendable(batch, err);
            }
            continue; // the same cursor again: narrower, or passing over the unsendable host
          }
          figures.requests++;
          figures.hosts += answer.hosts;
          figures.accepted += answer.accepted;
          figures.refused.push(...answer.refused);
          limits = full;
        }
        await this.cursorFile.write(batch.next);
        cursor = batch.next;
      }
      if (figures.refused.length > 0)
        this.log.warn({ refused: figures.refused }, 'the parent refused hosts of this rollup');
      this.state.lastSuccessAt = new Date().toISOString();
      this.state.error = null;
      this.state.failures = 0;
      this.state.nextRetryAt = null;
      this.state.lastRun = figures;
      this.retryAt = 0;
      this.seen = seen;
      if (figures.requests > 0)
        this.log.info({ reason, ...figures, refused: figures.refused.length }, 'rollup delivered');
    } catch (err) {
      this.state.failures++;
      const base = this.opts.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
      const delay = Math.min(
        base * 2 ** (this.state.failures - 1),
        this.opts.maxRetryMs ?? DEFAULT_MAX_RETRY_MS,
      );
      this.retryAt = Date.now() + delay;
      this.state.error = errorMessage(err);
      this.state.nextRetryAt = new Date(this.retryAt).toISOString();
      this.log.warn(
        {
          reason,
          err: this.state.error,
          failures: this.state.failures,
          retryInMs: delay,
          delivered: figures.requests,
        },
        'rollup not delivered; kept for a retry',
      );
    }
    await writeRollupStatus(this.opts.dataDir, this.state).catch((err: unknown) =>
      this.log.warn({ err: errorMessage(err) }, 'could not write the rollup status file'),
    );
  }

  /** What tells whether anything was reported since: the newest event and the latest lastSeenAt. */
  private async reported(): Promise<{ eventId: number; lastSeen: string | null }> {
    const { reports } = this.opts;
    const [eventId, lastSeen] = await Promise.all([reports.lastEventId(), reports.lastSeenMax()]);
    return { eventId, lastSeen };
  }

  /** The host of a one-host, one-event batch the parent still finds too large: never sendable as it is. */
  private markUnsendable(batch: RollupBatch, err: PatchbayError): void {
    const entry = batch.hosts[0]!;
    const hostId = entry.report.hostId;
    const lastSeenAt = batch.next.hosts[hostId] ?? '';
    this.unsendable.set(hostId, lastSeenAt);
    this.pendingSkip.set(hostId, { bytes: batch.bytes, error: err.message });
  }

  /** A host passed over as unsendable: kept in status() and logged as an error, once per snapshot. */
  private recordPassedOver(passed: RollupBatch['passedOver'][number]): void {
    const why = this.pendingSkip.get(passed.hostId);
    this.pendingSkip.delete(passed.hostId);
    const known = this.state.skipped.findLast((s) => s.hostId === passed.hostId);
    if (why === undefined && known !== undefined) {
      known.events += passed.events; // more of its events, passed over in a later batch
      return;
    }
    const skipped: RollupSkipped = {
      hostId: passed.hostId,
      lastSeenAt: this.unsendable.get(passed.hostId) ?? '',
      events: passed.events,
      bytes: why?.bytes ?? 0,
      at: new Date().toISOString(),
      error: why?.error ?? 'too large for the parent (HTTP 413)',
    };
    this.state.skipped = [...this.state.skipped, skipped].slice(-MAX_SKIPPED_KEPT);
    this.log.error(
      { hostId: skipped.hostId, events: skipped.events, bytes: skipped.bytes, err: skipped.error },
      'rollup: a host is too large for the parent even alone; skipped until it reports again',
    );
  }

  private async token(): Promise<string | null> {
    const { token, tokenFile } = this.opts.config;
    if (token) return token;
    if (!tokenFile) return null;
    try {
      return (await readFile(tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new PatchbayError(
        ErrorCodes.CONFIG,
        `rollup.tokenFile ${tokenFile} is unreadable: ${errorMessage(err)}`,
        { key: 'rollup.tokenFile', file: tokenFile },
        { cause: err },
      );
    }
  }

  private async send(body: RollupBody): Promise<RollupAnswer> {
    const token = await this.token();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await request(this.target, {
      method: 'PUT',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000),
      ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
    }).catch((err: unknown) => {
      throw new PatchbayError(
        ErrorCodes.NETWORK,
        `rollup to ${this.target}: ${errorMessage(err)}`,
        { url: this.target },
        { cause: err },
      );
    });
    const text = await readLimited(res.body, MAX_ANSWER_BYTES);
    if (res.statusCode !== 200) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not the error body: keep the text
      }
      throw new PatchbayError(
        res.statusCode === 409 && message.includes(ErrorCodes.MIRROR_LOOP)
          ? ErrorCodes.MIRROR_LOOP
          : ErrorCodes.HTTP_STATUS,
        `rollup to ${this.target}: HTTP ${res.statusCode}: ${message}`,
        { url: this.target, status: res.statusCode },
      );
    }
    return JSON.parse(text) as RollupAnswer;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

async function readLimited(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
