// How a follower replica learns that the leader published: the leader sends
// `NOTIFY patchbay_published` after a publication (a sync's, a re-sign's, a timestamp refresh's:
// publication-announce.ts), followers LISTEN on a connection of their own and reload at once; a
// check every cluster.leaderRetrySeconds covers a lost notification or connection.
// The reload is cheap when nothing changed (MirrorService.reload compares the files' marks).
import pg from 'pg';
import { errorMessage, type Logger } from '@patchbay/core';
import type { Clock } from '../tuf/timestamp-refresh.js';
import { openSession } from './pg-session.js';

export const PUBLISHED_CHANNEL = 'patchbay_published';

export interface PublicationWatchOptions {
  /** how often a follower checks the files with no notification (cluster.leaderRetrySeconds) */
  checkSeconds: number;
  clock: Clock;
  logger: Logger;
  /** read what the leader published (MirrorService.reload) */
  reload: () => Promise<unknown>;
}

export class PublicationWatch {
  private client: pg.Client | null = null;
  private timer: { cancel(): void } | null = null;
  private closed = false;
  private reloading: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(
    private readonly url: string,
    private readonly options: PublicationWatchOptions,
  ) {
    this.log = options.logger.child({ component: 'publication-watch' });
  }

  async start(): Promise<void> {
    await this.tick();
  }

  /** The leader: tell the followers (best effort: they check on their own too). */
  async announce(): Promise<void> {
    try {
      const client = await this.connection();
      await client.query(`NOTIFY ${PUBLISHED_CHANNEL}`);
    } catch (err) {
      this.log.warn(
        { err: errorMessage(err) },
        'could not announce a publication; followers see it at their next check',
      );
    }
  }

  /** One reload at a time; one asked for during a reload runs after it. */
  reload(): Promise<void> {
    const after = this.reloading ?? Promise.resolve();
    const next = after.then(async () => {
      try {
        await this.options.reload();
      } catch (err) {
        this.log.error(
          { err: errorMessage(err) },
          'reading what the leader published failed; the previous state stays served',
        );
      }
    });
    this.reloading = next;
    return next.finally(() => {
      if (this.reloading === next) this.reloading = null;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.reloading;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      await this.connection();
    } catch (err) {
      this.log.warn(
        { err: errorMessage(err) },
        'cannot listen for publications; checking the files on a timer',
      );
    }
    await this.reload();
    if (this.closed) return;
    this.timer = this.options.clock.setTimer(this.options.checkSeconds * 1000, () => this.tick());
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'patchbay-publications',
      keepAlive: true,
    });
    const drop = (): void => {
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
    };
    client.on('error', drop);
    client.on('end', drop);
    client.on('notification', (message) => {
      if (message.channel === PUBLISHED_CHANNEL) void this.reload();
    });
    this.client = await openSession(
      client,
      () => this.closed,
      (c) => c.query(`LISTEN ${PUBLISHED_CHANNEL}`),
    );
    return client;
  }
}
