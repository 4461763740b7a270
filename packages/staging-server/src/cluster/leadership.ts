// Which replica writes the data directory (docs/scale.md "Replicas and failover"): with
// database.url several `serve` processes share one dataDir and one PostgreSQL database, and
// only the leader syncs, collects, refreshes the TUF timestamp, mails and rolls up. With
// SQLite there is one server, always its own leader (soleLeader); the lifecycle reads both
// through this one interface.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';

export type LeadershipEvent = 'elected' | 'lost';

export interface Leadership {
  /** this process among the replicas (`<host>:<pid>`) */
  readonly replicaId: string;
  /** where reports, tokens and sync state live: 'postgres' means replicas may share the dataDir */
  readonly database: 'sqlite' | 'postgres';
  /** the last known answer (no round trip) */
  isLeader(): boolean;
  /** The fencing check before a publication: asks the database whether the lock is still held here. */
  stillLeader(): Promise<boolean>;
  /** The replica id of the leader now, or null when none holds the lock (or the database is out of reach). */
  leaderId(): Promise<string | null>;
  /** `elected`: leader work may start; `lost`: it must stop at once. Returns the unsubscribe. */
  on(event: LeadershipEvent, listener: () => void): () => void;
  /**
   * First election attempt, inside the start lock (replicas open the data directory one at a
   * time, so a key made at start is made once); then the attempts every leaderRetrySeconds.
   */
  start(): Promise<void>;
  /** The data directory is open: the next replica may start (releases the start lock). */
  startDone(): Promise<void>;
  close(): Promise<void>;
}

/** `<host>:<pid>`: what the status, the logs and the database's pg_stat_activity name a replica by. */
export function localReplicaId(): string {
  return `${hostname()}:${process.pid}`;
}

/** The events of a Leadership, typed. */
export class LeadershipEvents {
  private readonly emitter = new EventEmitter();

  on(event: LeadershipEvent, listener: () => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  emit(event: LeadershipEvent): void {
    this.emitter.emit(event);
  }
}

/** SQLite: one server per data directory (the data-dir lock), always its own leader. */
export function soleLeader(replicaId = localReplicaId()): Leadership {
  const events = new LeadershipEvents();
  return {
    replicaId,
    database: 'sqlite',
    isLeader: () => true,
    stillLeader: () => Promise.resolve(true),
    leaderId: () => Promise.resolve(replicaId),
    on: (event, listener) => events.on(event, listener),
    start: () => Promise.resolve(),
    startDone: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
