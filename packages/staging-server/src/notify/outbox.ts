// Mails waiting for the SMTP server. Sending happens in the background, one mail
// at a time; a failed attempt is retried with exponential backoff and jitter up to
// `retries` times, then the mail is given up (counted in `failed`). Nothing here is
// ever awaited by a sync or a report.
import { backoffDelay, errorMessage, type Logger } from '@patchbay/core';
import type { Mail, OutboxCounters } from './types.js';

export interface QueuedMail {
  id: string;
  mail: Mail;
  /** attempts made so far */
  attempts: number;
  /** epoch ms of the next attempt */
  nextAttemptAt: number;
  createdAt: string;
  lastError: string | null;
}

export interface OutboxOptions {
  send: (mail: Mail) => Promise<void>;
  /** retries after the first attempt (notify.retries) */
  retries: number;
  retryBaseMs: number;
  retryCapMs: number;
  now: () => Date;
  random: () => number;
  logger: Logger;
  /** called whenever the queue changes, so that its owner can persist it */
  onChange: () => void;
}

export class MailOutbox {
  private readonly mails: QueuedMail[] = [];
  private sent = 0;
  private failed = 0;
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  private lastSentAt: string | null = null;
  private pass: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private nextId = 1;

  constructor(private readonly options: OutboxOptions) {}

  /** Mails restored from the persisted queue: due at once. */
  restore(mails: readonly QueuedMail[]): void {
    for (const mail of mails) this.mails.push({ ...mail, nextAttemptAt: 0 });
    if (this.mails.length > 0) this.kick();
  }

  enqueue(mail: Mail): void {
    const now = this.options.now();
    this.mails.push({
      id: `${now.getTime().toString(36)}-${(this.nextId++).toString(36)}`,
      mail,
      attempts: 0,
      nextAttemptAt: 0,
      createdAt: now.toISOString(),
      lastError: null,
    });
    this.options.onChange();
    this.kick();
  }

  snapshot(): QueuedMail[] {
    return this.mails.map((m) => ({ ...m }));
  }

  counters(): OutboxCounters {
    return {
      queued: this.mails.length,
      sent: this.sent,
      failed: this.failed,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastSentAt: this.lastSentAt,
    };
  }

  /** Attempt every queued mail now, backoff or not; resolves when that pass is over. */
  async attemptAll(): Promise<void> {
    await this.pass;
    for (const mail of this.mails) mail.nextAttemptAt = 0;
    this.kick();
    await this.pass;
  }

  /** Wait for a running pass (at most `waitMs`), then stop scheduling attempts. */
  async close(waitMs: number): Promise<void> {
    this.closed = true;
    this.clearTimer();
    if (this.pass) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        this.pass,
        new Promise<void>((resolve) => (timeout = setTimeout(resolve, waitMs))),
      ]);
      clearTimeout(timeout);
    }
  }

  /** Start a send pass unless one runs; it re-arms the timer for the next due mail. */
  private kick(): void {
    if (this.pass || this.closed) return;
    this.clearTimer();
    this.pass = this.sendDue().finally(() => {
      this.pass = null;
      this.arm();
    });
  }

  private async sendDue(): Promise<void> {
    for (;;) {
      const now = this.options.now().getTime();
      const due = this.mails.find((m) => m.nextAttemptAt <= now);
      if (!due || this.closed) return;
      await this.attempt(due);
    }
  }

  private async attempt(entry: QueuedMail): Promise<void> {
    const { logger } = this.options;
    entry.attempts++;
    try {
      await this.options.send(entry.mail);
      this.remove(entry);
      this.sent++;
      this.lastSentAt = this.options.now().toISOString();
      logger.info({ subject: entry.mail.subject, attempts: entry.attempts }, 'notification sent');
    } catch (err) {
      const message = errorMessage(err);
      entry.lastError = message;
      this.lastError = message;
      this.lastErrorAt = this.options.now().toISOString();
      if (entry.attempts > this.options.retries) {
        this.remove(entry);
        this.failed++;
        logger.error(
          { subject: entry.mail.subject, attempts: entry.attempts, err: message },
          'notification given up after its retries',
        );
      } else {
        const delay = backoffDelay(
          entry.attempts,
          this.options.retryBaseMs,
          this.options.retryCapMs,
          this.options.random,
        );
        entry.nextAttemptAt = this.options.now().getTime() + delay;
        logger.warn(
          { subject: entry.mail.subject, attempts: entry.attempts, retryInMs: delay, err: message },
          'notification not sent; will retry',
        );
      }
    }
    this.options.onChange();
  }

  private remove(entry: QueuedMail): void {
    const index = this.mails.indexOf(entry);
    if (index >= 0) this.mails.splice(index, 1);
  }

  private arm(): void {
    if (this.closed || this.mails.length === 0) return;
    const next = Math.min(...this.mails.map((m) => m.nextAttemptAt));
    const delay = Math.max(0, next - this.options.now().getTime());
    // unref: a pending retry never keeps a finished process alive (the queue is persisted).
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
