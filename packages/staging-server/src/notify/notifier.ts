// The notifier the server uses: turns syncs and client reports into notices,
// groups them by notify.digest, and hands mails to the background outbox.
// Without notify config it is a no-op whose status says "disabled".
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import {
  errorMessage,
  readJsonFile,
  writeFileAtomic,
  type Catalog,
  type FeedPatch,
  type Logger,
  type NotifyConfig,
  type ReportEvent,
} from '@patchbay/core';
import type { SyncReport } from '../mirror.js';
import { composeMail } from './compose.js';
import { hostNotice, patchAvailableNotice, wantedKinds } from './events.js';
import { MailOutbox, type QueuedMail } from './outbox.js';
import {
  createSmtpTransport,
  sendOne,
  sendSettings,
  type MailTransport,
  type SendSettings,
} from '@patchbay/core';
import type { HostNotice, Notice, NotifyStatus } from './types.js';

export const NOTIFY_STATE_FILE = 'notify-outbox.json';
const HOUR_MS = 3_600_000;

export interface NotifierOptions {
  now?: () => Date;
  transportFactory?: (settings: SendSettings) => MailTransport;
  /** where the queue and the pending digest survive restarts; null: memory only */
  dataDir?: string | null;
  /** first retry delay (default 30 s), doubling up to retryCapMs (default 30 min), with jitter */
  retryBaseMs?: number;
  retryCapMs?: number;
  random?: () => number;
  /** the hourly digest's period (tests shorten it) */
  digestIntervalMs?: number;
  /** arms the digest's timer, returns its cancel (default: an unref'd setTimeout; tests fire it by hand) */
  digestTimer?: (fire: () => void, ms: number) => () => void;
  /** footer of every mail (default: this machine's host name) */
  serverName?: string;
  /** how long close() waits for a send in progress (default 5 s) */
  closeWaitMs?: number;
  /**
   * Replicas: asked before each write of the queue; false (no longer the leader, whose file it
   * is now) skips it, and the new leader mails again from the last state written.
   */
  mayPersist?: () => Promise<boolean>;
}

export interface Notifier {
  readonly enabled: boolean;
  /** A sync ended; `newPatches` are those the new catalog added (empty: nothing to say). */
  onSyncFinished(report: SyncReport, newPatches: readonly FeedPatch[], catalogSequence: number): void;
  /** Newly stored client events (never a resent one); titles come from `catalog`. */
  onReport(
    host: { hostId: string; hostname: string },
    events: readonly ReportEvent[],
    catalog: Catalog | null,
  ): void;
  status(): NotifyStatus;
  /**
   * Replicas: client events the leader reads back from the report store (notify/event-mail.ts),
   * mailed as onReport would, with `cursor` (the last event id read) persisted in the same write
   * as the mails they make: a crash neither loses them nor mails them twice.
   */
  onStoredEvents?(
    reports: readonly { host: { hostId: string; hostname: string }; events: readonly ReportEvent[] }[],
    catalog: Catalog | null,
    cursor: number,
  ): void;
  /** the cursor onStoredEvents last persisted; null before the first */
  eventCursor?(): number | null;
  /** Send the pending digest now and attempt every queued mail once. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface PersistedState {
  version: 1;
  mails: QueuedMail[];
  digest: Notice[];
  /** replicas: the last stored event id mailed (onStoredEvents) */
  eventCursor?: number;
}

const DISABLED_STATUS: NotifyStatus = Object.freeze({
  enabled: false,
  digest: null,
  queued: 0,
  pendingDigest: 0,
  sent: 0,
  failed: 0,
  lastError: null,
  lastErrorAt: null,
  lastSentAt: null,
});

export const disabledNotifier: Notifier = Object.freeze({
  enabled: false,
  onSyncFinished: () => undefined,
  onReport: () => undefined,
  status: () => ({ ...DISABLED_STATUS }),
  flush: async () => undefined,
  close: async () => undefined,
});

export async function createNotifier(
  config: NotifyConfig | undefined,
  logger: Logger,
  options: NotifierOptions = {},
): Promise<Notifier> {
  if (!config) return disabledNotifier;
  const settings = sendSettings(config);
  if (!settings) {
    logger.warn('notify is set without smtp.host, from or to: notifications are off');
    return disabledNotifier;
  }
  const notifier = new MailNotifier(config, settings, logger.child({ component: 'notify' }), options);
  await notifier.restore();
  return notifier;
}

/** A timer that never keeps the process alive (the pending digest is persisted). */
function unrefTimer(fire: () => void, ms: number): () => void {
  const timer = setTimeout(fire, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

class MailNotifier implements Notifier {
  readonly enabled = true;
  private readonly wanted;
  private readonly digest: 'off' | 'sync' | 'hourly';
  private readonly now: () => Date;
  private readonly transport: MailTransport;
  private readonly outbox: MailOutbox;
  private readonly stateFile: string | null;
  private pendingDigest: Notice[] = [];
  private cursor: number | null = null;
  private cancelDigestTimer: (() => void) | null = null;
  private persistChain: Promise<void> = Promise.resolve();
  private persistQueued = false;
  private closed = false;

  constructor(
    private readonly config: NotifyConfig,
    settings: SendSettings,
    private readonly log: Logger,
    private readonly options: NotifierOptions,
  ) {
    this.wanted = wantedKinds(config.events);
    this.digest = config.digest ?? 'off';
    this.now = options.now ?? (() => new Date());
    this.transport = (options.transportFactory ?? createSmtpTransport)(settings);
    this.stateFile = options.dataDir ? join(options.dataDir, NOTIFY_STATE_FILE) : null;
    this.outbox = new MailOutbox({
      send: async (mail) => {
        await sendOne(this.transport, settings, mail);
      },
      retries: config.retries ?? 5,
      retryBaseMs: options.retryBaseMs ?? 30_000,
      retryCapMs: options.retryCapMs ?? 30 * 60_000,
      now: this.now,
      random: options.random ?? Math.random,
      logger: this.log,
      onChange: () => this.persist(),
    });
  }

  /** Load what a previous process left queued; a broken file is logged and set aside, never fatal. */
  async restore(): Promise<void> {
    if (!this.stateFile) return;
    let state: PersistedState | undefined;
    try {
      state = await readJsonFile<PersistedState>(this.stateFile);
    } catch (err) {
      this.log.error(
        { file: this.stateFile, err: errorMessage(err) },
        'notify queue unreadable; starting empty',
      );
      return;
    }
    if (state?.version !== 1) return;
    this.pendingDigest = Array.isArray(state.digest) ? state.digest : [];
    if (typeof state.eventCursor === 'number') this.cursor = state.eventCursor;
    if (this.pendingDigest.length > 0) this.armDigest();
    if (Array.isArray(state.mails) && state.mails.length > 0) {
      this.log.info({ mails: state.mails.length }, 'notify queue restored');
      this.outbox.restore(state.mails);
    }
  }

  onSyncFinished(report: SyncReport, newPatches: readonly FeedPatch[], catalogSequence: number): void {
    if (newPatches.length === 0 || !this.wanted.has('patch-available')) return;
    const at = report.finishedAt ?? this.now().toISOString();
    this.accept([patchAvailableNotice(newPatches, catalogSequence, at)]);
  }

  onReport(
    host: { hostId: string; hostname: string },
    events: readonly ReportEvent[],
    catalog: Catalog | null,
  ): void {
    const notices = events
      .map((event) => hostNotice(event, host, catalog))
      .filter((notice): notice is HostNotice => notice !== null && this.wanted.has(notice.kind));
    if (notices.length > 0) this.accept(notices);
  }

  onStoredEvents(
    reports: readonly { host: { hostId: string; hostname: string }; events: readonly ReportEvent[] }[],
    catalog: Catalog | null,
    cursor: number,
  ): void {
    if (this.closed) return;
    // set before the mails are queued: the write they cause carries both
    this.cursor = cursor;
    for (const { host, events } of reports) this.onReport(host, events, catalog);
    this.persist();
  }

  eventCursor(): number | null {
    return this.cursor;
  }

  /** One batch: a sync's news or one report's events. */
  private accept(notices: Notice[]): void {
    if (this.closed) return;
    try {
      if (this.digest === 'off') for (const notice of notices) this.enqueue([notice]);
      else if (this.digest === 'sync') this.enqueue(notices);
      else {
        this.pendingDigest.push(...notices);
        this.persist();
        this.armDigest();
      }
    } catch (err) {
      // A notification problem must never reach the sync or the report route.
      this.log.error({ err: errorMessage(err) }, 'could not queue a notification');
    }
  }

  private enqueue(notices: readonly Notice[]): void {
    const mail = composeMail(notices, {
      subjectPrefix: this.config.subjectPrefix ?? '[patchbay]',
      serverName: this.options.serverName ?? osHostname(),
    });
    this.outbox.enqueue(mail);
  }

  private armDigest(): void {
    if (this.cancelDigestTimer || this.closed) return;
    const arm = this.options.digestTimer ?? unrefTimer;
    this.cancelDigestTimer = arm(() => {
      this.cancelDigestTimer = null;
      this.flushDigest();
    }, this.options.digestIntervalMs ?? HOUR_MS);
  }

  private flushDigest(): void {
    this.cancelDigestTimer?.();
    this.cancelDigestTimer = null;
    if (this.pendingDigest.length === 0) return;
    const notices = this.pendingDigest;
    this.pendingDigest = [];
    try {
      this.enqueue(notices);
    } catch (err) {
      this.log.error({ err: errorMessage(err), notices: notices.length }, 'could not compose the digest');
      this.persist();
    }
  }

  status(): NotifyStatus {
    return {
      enabled: true,
      digest: this.digest,
      pendingDigest: this.pendingDigest.length,
      ...this.outbox.counters(),
    };
  }

  async flush(): Promise<void> {
    this.flushDigest();
    await this.outbox.attemptAll();
    await this.persistChain;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // The hourly digest is not lost at shutdown: it is queued and, if SMTP answers, sent.
    this.flushDigest();
    this.closed = true;
    await this.outbox.close(this.options.closeWaitMs ?? 5_000);
    this.persist();
    await this.persistChain;
    this.transport.close();
  }

  /** Write the queue and the pending digest (coalesced; temp file then rename). */
  private persist(): void {
    const file = this.stateFile;
    if (!file || this.persistQueued) return;
    this.persistQueued = true;
    this.persistChain = this.persistChain.then(async () => {
      this.persistQueued = false;
      if (this.options.mayPersist && !(await this.options.mayPersist())) {
        this.log.warn({ file }, 'no longer the leader: the notify queue is left to the new one');
        return;
      }
      const state: PersistedState = {
        version: 1,
        mails: this.outbox.snapshot(),
        digest: this.pendingDigest,
        ...(this.cursor === null ? {} : { eventCursor: this.cursor }),
      };
      try {
        await writeFileAtomic(file, `${JSON.stringify(state)}\n`);
      } catch (err) {
        this.log.error({ file, err: errorMessage(err) }, 'could not persist the notify queue');
      }
    });
  }
}
