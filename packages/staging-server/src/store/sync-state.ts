// Small durable facts about syncing, in keyv: over SQLite (<dataDir>/state.sqlite), or with
// database.url in PostgreSQL, where every replica reads the leader's writes.
import { join } from 'node:path';
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import type { Logger } from '@patchbay/core';
import type { SyncReport } from '../mirror.js';
import { KeyvBetterSqlite } from './keyv-better-sqlite.js';
import { openKeyvPostgres } from './keyv-postgres.js';

export const STATE_FILE_NAME = 'state.sqlite';

/** HTTP validators of the last accepted feed.json, for the next conditional GET. */
export interface UpstreamValidators {
  etag?: string;
  lastModified?: string;
}

const KEYS = {
  validators: 'upstream.validators',
  lastAcceptedSequence: 'upstream.lastAcceptedSequence',
  mirrorSequence: 'mirror.sequence',
  lastSync: 'sync.last',
  lastUpdate: 'sync.lastUpdate',
} as const;

/** What SyncStateStore.open reads of the config: a ServerConfig will do. */
export interface SyncStateConfig {
  dataDir: string;
  /** database.url: a postgres:// URL puts the state in PostgreSQL; absent or null, <dataDir>/state.sqlite */
  database?: { url?: string | null };
}

export class SyncStateStore {
  private constructor(private readonly keyv: Keyv) {}

  static async open(config: SyncStateConfig, logger?: Logger): Promise<SyncStateStore> {
    const databaseUrl = config.database?.url;
    const adapter: KeyvStoreAdapter =
      typeof databaseUrl === 'string'
        ? await openKeyvPostgres(databaseUrl, logger)
        : new KeyvBetterSqlite({ path: join(config.dataDir, STATE_FILE_NAME), busyTimeoutMs: 5000 });
    // throwOnErrors: a lost write here (e.g. the mirror sequence) must fail the sync, not vanish in an event.
    const keyv = new Keyv({ store: adapter, namespace: 'patchbay-sync', throwOnErrors: true });
    const state = new SyncStateStore(keyv);
    await state.keyv.get(KEYS.mirrorSequence); // opens the database now, so a bad path fails at start
    return state;
  }

  async validators(): Promise<UpstreamValidators> {
    return ((await this.keyv.get(KEYS.validators)) as UpstreamValidators | undefined) ?? {};
  }

  async lastAcceptedSequence(): Promise<number | undefined> {
    return (await this.keyv.get(KEYS.lastAcceptedSequence)) as number | undefined;
  }

  /** Record an accepted feed: its sequence and the validators to send next time. */
  async recordAcceptedFeed(sequence: number, validators: UpstreamValidators): Promise<void> {
    const clean: UpstreamValidators = {};
    if (validators.etag) clean.etag = validators.etag;
    if (validators.lastModified) clean.lastModified = validators.lastModified;
    await this.keyv.set(KEYS.lastAcceptedSequence, sequence);
    await this.keyv.set(KEYS.validators, clean);
  }

  async mirrorSequence(): Promise<number> {
    return ((await this.keyv.get(KEYS.mirrorSequence)) as number | undefined) ?? 0;
  }

  async setMirrorSequence(sequence: number): Promise<void> {
    await this.keyv.set(KEYS.mirrorSequence, sequence);
  }

  async lastSync(): Promise<SyncReport | undefined> {
    return (await this.keyv.get(KEYS.lastSync)) as SyncReport | undefined;
  }

  /** The report; one that succeeded (a sync or an import) is also the last update. */
  async setLastSync(report: SyncReport): Promise<void> {
    await this.keyv.set(KEYS.lastSync, report);
    if (report.outcome === 'ok' || report.outcome === 'partial') await this.keyv.set(KEYS.lastUpdate, report);
  }

  /** The last sync or import that succeeded (kept when later syncs fail). */
  async lastUpdate(): Promise<SyncReport | undefined> {
    return (await this.keyv.get(KEYS.lastUpdate)) as SyncReport | undefined;
  }

  async close(): Promise<void> {
    await this.keyv.disconnect();
  }
}
