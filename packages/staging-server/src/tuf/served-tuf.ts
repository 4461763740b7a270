// Trust v2 on a staging server, as one object the MirrorService holds when upstream.trustedRoot
// is set (or signing.targets is "mirror": server-signed.ts): the online key, the served repository and its timestamp refresher. The sync side
// publishes through it (tuf-sync.ts); the HTTP side reads it (TufRepositoryView).
import { dirname, join } from 'node:path';
import { removeStaleAtomicTemps, type Logger, type ServerConfig } from '@patchbay/core';
import { METADATA_DIR } from '@patchbay/core/tuf';
import { serverSignsTargets, loadSigningRoot, MIRROR_SIGNS_TARGETS_WARNING } from './server-signed.js';
import { ensureOnlineKey, onlineKeyFile, type OnlineKey } from './online-key.js';
import {
  ServedRepository,
  servedRepositoryDir,
  type ExpiryPolicy,
  type TrustStatus,
} from './served-repository.js';
import type { MetadataFile } from './served-metadata.js';
import { TimestampRefresher, systemClock, type Clock } from './timestamp-refresh.js';
import { upstreamMetadataDir } from './upstream-repository.js';

/** Defaults of signing.snapshotExpiryDays and signing.timestampExpiryHours. */
export const DEFAULT_SNAPSHOT_EXPIRY_DAYS = 7;
export const DEFAULT_TIMESTAMP_EXPIRY_HOURS = 24;

/** What the HTTP routes read: where the metadata is, which targets are served, the status. */
export interface TufRepositoryView {
  /** metadata/<file>: its bytes and ETag (kept in memory while the file is unchanged), or null when absent */
  metadataFile(file: string): Promise<MetadataFile | null>;
  /** sha256 of the available target at this consistent path, or undefined */
  targetDigest(consistentPath: string): string | undefined;
  trustStatus(): ServerTrustStatus;
}

/** /v1/status `trust`: the served repository's state, who signs targets, and the warning of mirror mode. */
export type ServerTrustStatus = TrustStatus & {
  targetsSignedBy: 'publisher' | 'mirror';
  warning?: string;
};

export interface ServedTuf {
  readonly onlineKey: OnlineKey;
  readonly repository: ServedRepository;
  /** re-arms the timestamp refresher after a publication (nothing while this replica follows) */
  readonly refresher: Pick<TimestampRefresher, 'check'>;
  readonly clock: Clock;
  view(): TufRepositoryView;
  /** This process writes the repository: temps of an interrupted write go, the refresher starts. */
  lead(): Promise<void>;
  /** Another replica writes it: the refresher stops (the leader's refreshes are read by reload). */
  follow(): Promise<void>;
  /** `listener` runs after each timestamp the refresher writes (replicas: the leader announces it). */
  onRefreshed(listener: () => void): void;
  close(): Promise<void>;
}

export interface OpenTufOptions {
  /** replicas: this process is not the leader; nothing is written until lead() */
  follower?: boolean;
  /** replicas: runs before every write of the repository (throws when leadership is lost) */
  fence?: () => Promise<void>;
}

/** True when the config makes the upstream a TUF repository (upstream.trustedRoot set). */
export function isTufUpstream(config: Pick<ServerConfig, 'upstream'>): boolean {
  return typeof config.upstream.trustedRoot === 'string' && config.upstream.trustedRoot !== '';
}

export function expiryPolicy(config: Pick<ServerConfig, 'signing'>): ExpiryPolicy {
  return {
    snapshotDays: config.signing?.snapshotExpiryDays ?? DEFAULT_SNAPSHOT_EXPIRY_DAYS,
    timestampHours: config.signing?.timestampExpiryHours ?? DEFAULT_TIMESTAMP_EXPIRY_HOURS,
  };
}

/**
 * Load (or make) the online key, open the served repository and start the timestamp refresher.
 * A readable-by-others key file is PB_ERR_CONFIG (the CLIs exit 2).
 */
export async function openTufMirror(
  config: ServerConfig,
  log: Logger,
  clock: Clock = systemClock,
  options: OpenTufOptions = {},
): Promise<ServedTuf> {
  const dir = servedRepositoryDir(config.dataDir);
  // Made once: replicas open the data directory one at a time (the start lock, cluster/).
  const { key: onlineKey, created } = await ensureOnlineKey(config);
  if (created) {
    log.warn(
      { keyFile: onlineKey.keyFile, keyId: onlineKey.keyId },
      'no online key found; made a new one: the upstream root must list its key id for snapshot and timestamp',
    );
  }
  log.info({ keyFile: onlineKey.keyFile, keyId: onlineKey.keyId }, 'TUF online key loaded');
  const mirrorSigned = serverSignsTargets(config);
  if (mirrorSigned) {
    // The root must list the online key for targets too: refused at start (exit 2), not at the first sync.
    const roots = await loadSigningRoot(config, onlineKey);
    log.warn(
      { rootVersion: roots.at(-1)!.version, root: config.signing.root, keyId: onlineKey.keyId },
      MIRROR_SIGNS_TARGETS_WARNING,
    );
  }
  const repository = await ServedRepository.open(dir, onlineKey, expiryPolicy(config), log, options.fence);
  let refresher: TimestampRefresher | null = null;
  let refreshed = (): void => undefined;
  // replicas (database.url) share the directory: even the leader checks each file, since its
  // lock may be lost, and another replica publishing, before it knows
  const replicas = Boolean(config.database?.url);
  const lead = async (): Promise<void> => {
    repository.serveOwnWrites(!replicas);
    await removeInterruptedWrites(config, log);
    refresher ??= new TimestampRefresher(repository, clock, log, () => refreshed());
    await refresher.check();
  };
  const follow = async (): Promise<void> => {
    repository.serveOwnWrites(false);
    const stopping = refresher;
    refresher = null;
    await stopping?.stop();
  };
  if (!options.follower) await lead();
  const view: TufRepositoryView = {
    metadataFile: (file) => repository.metadataFile(file),
    targetDigest: (path) => repository.targetDigest(path),
    trustStatus: () => ({
      ...repository.trustStatus(),
      targetsSignedBy: mirrorSigned ? 'mirror' : 'publisher',
      ...(mirrorSigned ? { warning: MIRROR_SIGNS_TARGETS_WARNING } : {}),
    }),
  };
  return {
    onlineKey,
    repository,
    refresher: { check: () => refresher?.check() ?? Promise.resolve() },
    clock,
    view: () => view,
    lead,
    follow,
    onRefreshed: (listener) => {
      refreshed = listener;
    },
    close: follow,
  };
}

/** Temps of writes a crash cut short (this process is the only writer: no live one owns them). */
async function removeInterruptedWrites(config: ServerConfig, log: Logger): Promise<void> {
  for (const tempDir of [
    join(servedRepositoryDir(config.dataDir), METADATA_DIR),
    upstreamMetadataDir(config.dataDir),
    dirname(onlineKeyFile(config)),
  ]) {
    const removed = await removeStaleAtomicTemps(tempDir);
    if (removed.length > 0)
      log.warn({ dir: tempDir, removed }, 'removed temp files left by an interrupted write');
  }
}
