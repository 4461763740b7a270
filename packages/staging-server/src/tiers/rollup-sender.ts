// The branch side of the report rollup: forwards what its clients reported to the parent
// staging server, batch by batch, moving the cursor only after the parent's 200. A
// delivery that fails (parent down, 5xx, 401, a loop) keeps everything pending and is
// retried with backoff; nothing is dropped. Only a host the parent refuses by name (it
// reports there directly, or through another branch) is skipped, and said so.
import { readFile } from 'node:fs/promises';
import { request, type Dispatcher } from 'undici';
import { ErrorCodes, errorMessage, PatchbayError, type Logger, type RollupConfig } from '@patchbay/core';
import { BatchBuilder, DEFAULT_BATCH_LIMITS, type BatchLimits, type RollupSource } from './rollup-batch.js';
import { RollupCursorFile } from './rollup-cursor.js';
import { writeRollupStatus } from './rollup-status.js';
import { ROLLUP_FORMAT, rollupPath, type RollupAnswer, type RollupBody } from './rollup-protocol.js';

export interface RollupStatus {
  parent: string;
  branchId: string;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  /** the last failure's message (null after a success) */
  error: string | null;
  /** consecutive failures; the retry waits longer after each */
  failures: number;
  nextRetryAt: string | null;
  /** figures of the last successful run */
  lastRun: { requests: number; hosts: number; accepted: number; refused: RollupAnswer['refused'] } | null;
}

export interface RollupSenderOptions {
  config: RollupConfig;
  dataDir: string;
  store: RollupSource & { lastEventId(): number; lastSeenMax(): string | null };
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
    const seen = { eventId: this.opts.store.lastEventId(), lastSeen: this.opts.store.lastSeenMax() };
    if (this.seen && this.seen.eventId === seen.eventId && this.seen.lastSeen === seen.lastSeen) return;
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
    const seen = { eventId: this.opts.store.lastEventId(), lastSeen: this.opts.store.lastSeenMax() };
    const figures = { requests: 0, hosts: 0, accepted: 0, refused: [] as RollupAnswer['refused'] };
    try {
      let cursor = await this.cursorFile.read(this.target);
      const builder = new BatchBuilder(this.opts.store, this.opts.limits ?? DEFAULT_BATCH_LIMITS);
      for (let batch = builder.next(cursor); batch !== null && !this.closed; batch = builder.next(cursor)) {
        const answer = await this.send({
          format: ROLLUP_FORMAT,
          branchId: this.opts.config.branchId,
          mirror: this.opts.fingerprint,
          sentAt: new Date().toISOString(),
          hosts: batch.hosts,
        });
        await this.cursorFile.write(batch.next);
        cursor = batch.next;
        figures.requests++;
        figures.hosts += answer.hosts;
        figures.accepted += answer.accepted;
        figures.refused.push(...answer.refused);
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
