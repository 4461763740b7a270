// The leader of the replicas: whoever holds a session-level PostgreSQL advisory lock on a
// connection of its own (not a pool's: a pool would hand the session, and the lock with it,
// to other work). The lock lives exactly as long as that session: when the leader process
// dies its socket closes and PostgreSQL releases the lock at once; another replica takes it
// at its next attempt, within cluster.leaderRetrySeconds. When the leader's machine vanishes
// (no FIN), PostgreSQL's TCP keepalive, set on this session, drops it after
// LEADER_KEEPALIVE.deadAfterSeconds; the takeover bound is then that plus leaderRetrySeconds.
//
// A lost connection (PostgreSQL restarted, the network cut) is lost leadership at once: the
// session's locks are gone with it, and another replica may already hold them.
import pg from 'pg';
import { errorMessage, type Logger } from '@patchbay/core';
import { displayDatabaseUrl } from '../database/postgres-pool.js';
import { systemClock, type Clock } from '../tuf/timestamp-refresh.js';
import { openSession } from './pg-session.js';
import { LeadershipEvents, localReplicaId, type Leadership, type LeadershipEvent } from './leadership.js';

/** The two-int advisory lock keys ('patc' 'lead' and 'patc' 'strt' in ASCII). */
const LOCK_SPACE = 0x70617463;
const LEADER_KEY = 0x6c656164;
const START_KEY = 0x73747274;

/**
 * PostgreSQL's TCP keepalive on the leader's session: a peer silent for idle seconds is
 * probed every interval seconds, and dropped after count unanswered probes.
 */
export const LEADER_KEEPALIVE = { idleSeconds: 10, intervalSeconds: 5, count: 3, deadAfterSeconds: 25 };

/** A round trip that takes longer than this counts as a lost connection. */
const QUERY_TIMEOUT_MS = 10_000;

/** application_name of the lock's session, which is how leaderId() finds who holds it. */
const APPLICATION_PREFIX = 'patchbay-leader ';

export interface LeaderLockOptions {
  /** cluster.leaderRetrySeconds */
  retrySeconds: number;
  logger: Logger;
  replicaId?: string;
  /** timers (tests pass a clock they fire by hand) */
  clock?: Clock;
}

export class PostgresLeaderLock implements Leadership {
  readonly database = 'postgres' as const;
  readonly replicaId: string;
  private readonly events = new LeadershipEvents();
  private readonly clock: Clock;
  private readonly log: Logger;
  private client: pg.Client | null = null;
  private leader = false;
  private startLocked = false;
  private timer: { cancel(): void } | null = null;
  private attempting: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly options: LeaderLockOptions,
  ) {
    this.replicaId = options.replicaId ?? localReplicaId();
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ component: 'leader-lock', replica: this.replicaId });
  }

  isLeader(): boolean {
    return this.leader;
  }

  on(event: LeadershipEvent, listener: () => void): () => void {
    return this.events.on(event, listener);
  }

  async start(): Promise<void> {
    const client = await this.connection();
    // Blocks while another replica opens the data directory (its session ends: released).
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_SPACE, START_KEY]);
    this.startLocked = true;
    await this.attempt();
  }

  async startDone(): Promise<void> {
    if (!this.startLocked) return;
    this.startLocked = false;
    await this.client
      ?.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, START_KEY])
      .catch((err: unknown) => this.dropConnection(this.client, err));
  }

  /** One election attempt (a leader checks it still holds the lock); then the next is armed. */
  attempt(): Promise<void> {
    this.attempting ??= this.tryOnce().finally(() => {
      this.attempting = null;
      this.arm();
    });
    return this.attempting;
  }

  async stillLeader(): Promise<boolean> {
    const client = this.client;
    if (!this.leader || client === null) return false;
    try {
      const held = await this.holdsLock(client);
      if (!held) this.lose('the lock is no longer held by this session');
      return held;
    } catch (err) {
      this.dropConnection(client, err);
      return false;
    }
  }

  async leaderId(): Promise<string | null> {
    if (this.leader) return this.replicaId;
    const client = this.client;
    if (client === null) return null;
    try {
      const { rows } = await timedQuery<{ name: string }>(
        client,
        `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid
           AND l.objid = $2::bigint::oid AND l.objsubid = 2`,
      );
      const name = rows[0]?.name;
      return name?.startsWith(APPLICATION_PREFIX) ? name.slice(APPLICATION_PREFIX.length) : null;
    } catch (err) {
      this.dropConnection(client, err);
      return null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    await this.attempting;
    const client = this.client;
    this.client = null;
    if (this.leader) {
      this.leader = false;
      this.log.info('leadership given up (the server stops)');
    }
    // Ending the session releases its locks: another replica takes over at its next attempt.
    await client?.end().catch(() => undefined);
  }

  private async tryOnce(): Promise<void> {
    if (this.closed) return;
    let client: pg.Client | null = null;
    try {
      client = await this.connection();
      if (this.leader) {
        if (!(await this.holdsLock(client))) this.lose('the lock is no longer held by this session');
        return;
      }
      const { rows } = await timedQuery<{ got: boolean }>(
        client,
        'SELECT pg_try_advisory_lock($1, $2) AS got',
      );
      if (rows[0]?.got === true && !this.closed) {
        this.leader = true;
        this.log.info('elected leader: this replica now syncs, collects and mails');
        this.events.emit('elected');
      }
    } catch (err) {
      if (client) this.dropConnection(client, err);
      else this.log.warn({ err: errorMessage(err) }, 'leader lock: the database is out of reach; will retry');
    }
  }

  private async holdsLock(client: pg.Client): Promise<boolean> {
    const { rows } = await timedQuery<{ held: boolean }>(
      client,
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
         AND pid = pg_backend_pid() AND classid = $1::bigint::oid AND objid = $2::bigint::oid
         AND objsubid = 2) AS held`,
    );
    return rows[0]?.held === true;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const { idleSeconds, intervalSeconds, count } = LEADER_KEEPALIVE;
    const client = new pg.Client({
      connectionString: this.url,
      application_name: `${APPLICATION_PREFIX}${this.replicaId}`.slice(0, 63),
      // our side: a dead server or network is noticed by this process too
      keepAlive: true,
      keepAliveInitialDelayMillis: idleSeconds * 1000,
      connectionTimeoutMillis: QUERY_TIMEOUT_MS,
      // PostgreSQL's side: a leader whose machine vanished loses its session (and the lock)
      options: `-c tcp_keepalives_idle=${idleSeconds} -c tcp_keepalives_interval=${intervalSeconds} -c tcp_keepalives_count=${count}`,
    });
    client.on('error', (err) => this.dropConnection(client, err));
    client.on('end', () => this.dropConnection(client, new Error('the connection was closed')));
    this.client = await openSession(client, () => this.closed);
    return client;
  }

  /** The session is gone or unusable: so are its locks. */
  private dropConnection(client: pg.Client | null, cause: unknown): void {
    if (client === null || this.client !== client) return;
    this.client = null;
    this.startLocked = false;
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.log.warn(
      { err: errorMessage(cause), database: displayDatabaseUrl(this.url) },
      'leader lock: connection to PostgreSQL lost; will reconnect',
    );
    this.lose('the connection to PostgreSQL was lost');
  }

  private lose(reason: string): void {
    if (!this.leader) return;
    this.leader = false;
    this.log.error({ reason }, 'leadership lost: leader work stops now');
    this.events.emit('lost');
  }

  private arm(): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = this.clock.setTimer(this.options.retrySeconds * 1000, () => this.attempt());
  }
}

/**
 * A query on the leader key that must answer within QUERY_TIMEOUT_MS: one that hangs (a
 * network that drops packets silently) rejects, and the caller drops the connection.
 */
async function timedQuery<R extends pg.QueryResultRow>(
  client: pg.Client,
  text: string,
): Promise<pg.QueryResult<R>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`PostgreSQL did not answer within ${QUERY_TIMEOUT_MS} ms`)),
      QUERY_TIMEOUT_MS,
    );
    timer.unref();
  });
  try {
    return await Promise.race([client.query<R>(text, [LOCK_SPACE, LEADER_KEY]), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
