// The TUF repository this staging server serves (docs/tuf-repository.md "Snapshot and timestamp
// on a staging server"), under <dataDir>/tuf/metadata/: the upstream's root versions, targets
// and mirrored delegated roles byte for byte, and the server's own snapshot and timestamp,
// signed with its online key. No targets/ directory: target files are served from the blob
// store by digest.
//
// Crash-safe order (each file: temp, fsync, rename, fsync the directory): roles, snapshot, then
// timestamp.json last. A host never sees a timestamp naming a snapshot that is not there, and
// a snapshot never names a role file that is missing. Versions only grow, also across a crash
// between snapshot and timestamp (the next snapshot is one above the newest on disk).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, failpoint, PRIVATE_FILE_MODE, writeFileAtomic, type Logger } from '@patchbay/core';
import {
  METADATA_DIR,
  UNAVAILABLE_SNAPSHOT_FIELD,
  buildSnapshot,
  buildTimestamp,
  consistentTargetPath,
  expiresAfter,
  listMetadataVersions,
  metadataFileName,
  readMetadata,
  snapshotMetaKey,
  unavailableTargets,
  writeMetadata,
  type UnavailableTarget,
} from '@patchbay/core/tuf';
import type { Root, Snapshot, Targets } from '@tufjs/models';
import type { OnlineKey } from './online-key.js';
import type { RoleFile } from './role-file.js';
import { ServedMetadataCache, type MetadataFile } from './served-metadata.js';

/**
 * Where this server's snapshot `signed` lists the online key ids of the staging servers the
 * repository passed through, the upstream's side first and this server last (tiers: DMZ, then
 * branch). A server that finds its own key id in its upstream's list is fed its own output (a
 * loop). Inside the snapshot's signature, so it is as trustworthy as the upstream's online key:
 * a false list can only make a server refuse (withhold), which that key can do anyway.
 */
export const MIRROR_CHAIN_SNAPSHOT_FIELD = 'x-patchbay-mirror-chain';

/** The chain a snapshot carries ([] when it has none: a publisher's snapshot). */
export function snapshotChain(snapshot: Pick<Snapshot, 'unrecognizedFields'>): string[] {
  const chain = snapshot.unrecognizedFields[MIRROR_CHAIN_SNAPSHOT_FIELD];
  return Array.isArray(chain) ? chain.filter((id): id is string => typeof id === 'string') : [];
}

/** What the repository serves now (after its last complete publication). */
export interface ServedState {
  rootVersion: number;
  targetsVersion: number;
  snapshotVersion: number;
  snapshotExpires: string;
  timestampVersion: number;
  timestampExpires: string;
  /** the served roles (top-level targets included): version and length as the snapshot lists them */
  roles: Map<string, { version: number; length: number | undefined }>;
  unavailable: UnavailableTarget[];
  /** consistent target path (`<dir>/<sha256>.<basename>`) -> sha256, for every available target */
  targets: Map<string, string>;
  /** key ids that signed the served snapshot and timestamp */
  signedBy: { snapshot: string[]; timestamp: string[] };
  /** the served snapshot's MIRROR_CHAIN_SNAPSHOT_FIELD */
  chain: string[];
}

/** /v1/status `trust` in TUF mode. */
export interface TrustStatus {
  mode: 'tuf';
  rootVersion: number | null;
  targetsVersion: number | null;
  snapshotVersion: number | null;
  timestampVersion: number | null;
  timestampExpires: string | null;
  onlineKeyId: string;
}

/** What a publication puts in the repository: verified upstream bytes and the mirror's verdicts. */
export interface Publication {
  roots: readonly RoleFile<Root>[];
  targets: RoleFile<Targets>;
  roles: ReadonlyMap<string, RoleFile<Targets>>;
  /** target files that failed verification on this mirror */
  unavailable: readonly UnavailableTarget[];
  /** the upstream snapshot's mirror chain (this server's key id is appended); none for a publisher */
  upstreamChain?: readonly string[];
}

export interface ExpiryPolicy {
  snapshotDays: number;
  timestampHours: number;
}

export interface PublishOutcome {
  /** false: the served snapshot already says all this and is not due; nothing was written */
  published: boolean;
  snapshotVersion: number;
  timestampVersion: number;
}

/** `<dataDir>/tuf`: the served repository's directory (`metadata/` below it). */
export function servedRepositoryDir(dataDir: string): string {
  return join(dataDir, 'tuf');
}

export class ServedRepository {
  private state: ServedState | null = null;
  /** publications and timestamp refreshes, one at a time */
  private queue: Promise<unknown> = Promise.resolve();
  /** the metadata files as served over HTTP; dropped after every publication, refresh and reload */
  private readonly metadata: ServedMetadataCache;

  private constructor(
    readonly dir: string,
    private readonly onlineKey: OnlineKey,
    private readonly expiry: ExpiryPolicy,
    private readonly log: Logger,
    private readonly fence: (() => Promise<void>) | undefined,
  ) {
    // until told this process is the only writer (serveOwnWrites)
    this.metadata = new ServedMetadataCache(join(dir, METADATA_DIR), 'stat');
  }

  /**
   * Open the repository in `dir` and read what it serves (nothing before the first
   * publication). `fence` (replicas: is this one still the leader?) runs before every write.
   */
  static async open(
    dir: string,
    onlineKey: OnlineKey,
    expiry: ExpiryPolicy,
    log: Logger,
    fence?: () => Promise<void>,
  ): Promise<ServedRepository> {
    const repository = new ServedRepository(dir, onlineKey, expiry, log, fence);
    await repository.readState();
    return repository;
  }

  /** Read again what the files serve (a replica: the leader has published). */
  reload(): Promise<void> {
    return this.serialize(() => this.readState());
  }

  private async readState(): Promise<void> {
    try {
      this.state = await readServedState(this.dir);
    } catch (err) {
      // Every write is atomic, so this is damage from outside: serve nothing until the next sync.
      this.log.error(
        { dir: this.dir, err: errorMessage(err) },
        'the served TUF repository cannot be read; its targets are not served until the next sync',
      );
    }
  }

  get metadataDir(): string {
    return join(this.dir, METADATA_DIR);
  }

  current(): ServedState | null {
    return this.state;
  }

  trustStatus(): TrustStatus {
    const s = this.state;
    return {
      mode: 'tuf',
      rootVersion: s?.rootVersion ?? null,
      targetsVersion: s?.targetsVersion ?? null,
      snapshotVersion: s?.snapshotVersion ?? null,
      timestampVersion: s?.timestampVersion ?? null,
      timestampExpires: s?.timestampExpires ?? null,
      onlineKeyId: this.onlineKey.keyId,
    };
  }

  /** The sha256 of an available target at this consistent path (`<dir>/<sha256>.<basename>`), or undefined. */
  targetDigest(consistentPath: string): string | undefined {
    return this.state?.targets.get(consistentPath);
  }

  /**
   * True: this process is the only writer of the repository (one server), so the metadata kept
   * in memory is dropped by its own writes alone; false: another process may write (replicas),
   * so every request checks the file with a stat.
   */
  serveOwnWrites(onlyWriter: boolean): void {
    this.metadata.validateBy(onlyWriter ? 'own-writes' : 'stat');
  }

  /** metadata/<file> as served (its bytes and ETag), or null when there is no such file. */
  metadataFile(file: string): Promise<MetadataFile | null> {
    return this.metadata.read(file);
  }

  /** The bytes of a root version this repository holds, or undefined. */
  async rootBytes(version: number): Promise<Buffer | undefined> {
    return readFile(join(this.dir, METADATA_DIR, metadataFileName('root', version))).catch(() => undefined);
  }

  /**
   * No rollback: what a publication would serve against what this repository serves now. One
   * line per problem (naming the file and both versions): a newest root, targets or delegated
   * role older than the served one; with `sameVersionOtherBytes`, also a role at the served
   * version with other bytes (two contents signed under one version). Empty before any
   * publication, and when nothing goes back.
   */
  async rollbackProblems(
    rootVersion: number,
    files: readonly RoleFile<Targets>[],
    opts: { sameVersionOtherBytes?: boolean } = {},
  ): Promise<string[]> {
    const served = this.state;
    if (!served) return [];
    const problems: string[] = [];
    if (rootVersion < served.rootVersion) {
      problems.push(
        `root: the newest root is version ${rootVersion}, older than version ${served.rootVersion}, which this server publishes`,
      );
    }
    for (const file of files) {
      const name = metadataFileName(file.role, file.version);
      const have = served.roles.get(file.role);
      if (have === undefined) continue;
      if (file.version < have.version) {
        problems.push(
          `${name}: ${file.role} version ${file.version} is older than version ${have.version}, which this server publishes`,
        );
      } else if (file.version === have.version && opts.sameVersionOtherBytes) {
        const bytes = await readFile(join(this.dir, METADATA_DIR, name)).catch(() => undefined);
        if (bytes && !bytes.equals(file.bytes)) {
          problems.push(
            `${name}: other bytes than the ${file.role} version ${file.version} this server publishes (two contents signed under one version)`,
          );
        }
      }
    }
    return problems;
  }

  /**
   * When `refresh` has work: the timestamp after 45% of its life (so always before half), the
   * snapshot after half of its own; null before any publication.
   */
  refreshDue(): Date | null {
    const state = this.state;
    if (!state) return null;
    const timestampLifeMs = this.expiry.timestampHours * 3_600_000;
    const snapshotLifeMs = this.expiry.snapshotDays * 86_400_000;
    return new Date(
      Math.min(
        Date.parse(state.timestampExpires) - timestampLifeMs * 0.55,
        Date.parse(state.snapshotExpires) - snapshotLifeMs * 0.5,
      ),
    );
  }

  /**
   * Publish: root versions, targets and roles byte for byte, then (when anything changed, the
   * root moved, the served snapshot is not signed by the online key or is past half its life)
   * a new snapshot, then a new timestamp.
   */
  publish(publication: Publication, now: Date): Promise<PublishOutcome> {
    return this.serialize(() => this.publishNow(publication, now));
  }

  /**
   * Keep the online roles fresh with no sync: a new snapshot (the same roles and withheld
   * targets) when the served one is past half its life or not signed by the online key, then
   * a new timestamp (version + 1, new expiry) naming the served snapshot. Null before any
   * publication.
   */
  refresh(now: Date): Promise<{ snapshotVersion: number; timestampVersion: number } | null> {
    return this.serialize(async () => {
      const state = this.state;
      if (!state) return null;
      await this.fence?.();
      const halfLifeMs = (this.expiry.snapshotDays * 86_400_000) / 2;
      let snapshotVersion = state.snapshotVersion;
      if (
        Date.parse(state.snapshotExpires) - now.getTime() <= halfLifeMs ||
        !state.signedBy.snapshot.includes(this.onlineKey.keyId)
      ) {
        const versions = new Map([...state.roles].map(([role, { version }]) => [role, version] as const));
        const chain = state.chain.length > 0 ? state.chain : [this.onlineKey.keyId];
        snapshotVersion = await this.writeSnapshot(versions, state.unavailable, now, chain);
      }
      const timestampVersion = await this.writeTimestamp(snapshotVersion, now);
      this.state = await readServedState(this.dir);
      return { snapshotVersion, timestampVersion };
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    // whatever the work wrote or read again, done or failed half-way, is served from disk anew
    const invalidating = () => work().finally(() => this.metadata.invalidate());
    const run = this.queue.then(invalidating, invalidating);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async publishNow(publication: Publication, now: Date): Promise<PublishOutcome> {
    await this.fence?.();
    const meta = join(this.dir, METADATA_DIR);
    // 1. Root versions (hosts walk them) and root.json, the newest.
    for (const root of publication.roots)
      await this.writeExact(metadataFileName('root', root.version), root.bytes);
    const newestRoot = publication.roots.at(-1)!;
    await this.writeExact('root.json', newestRoot.bytes);
    // 2. Targets and the mirrored roles, as the upstream signed them.
    const files = [publication.targets, ...publication.roles.values()];
    for (const file of files) await this.writeExact(metadataFileName(file.role, file.version), file.bytes);

    const versions = new Map(files.map((file) => [file.role, file.version] as const));
    const unavailable = publication.unavailable.map(({ path, sha256, reason }) => ({ path, sha256, reason }));
    const chain = [...(publication.upstreamChain ?? []), this.onlineKey.keyId];
    const current = this.state;
    if (
      current &&
      !this.snapshotDue(current, newestRoot.version, files, unavailable, now) &&
      JSON.stringify(current.chain) === JSON.stringify(chain)
    ) {
      return {
        published: false,
        snapshotVersion: current.snapshotVersion,
        timestampVersion: current.timestampVersion,
      };
    }

    // 3. The snapshot, then 4. the timestamp, last.
    const snapshotVersion = await this.writeSnapshot(versions, unavailable, now, chain);
    const timestampVersion = await this.writeTimestamp(snapshotVersion, now);
    this.state = await readServedState(this.dir);
    this.log.info(
      {
        dir: meta,
        rootVersion: newestRoot.version,
        snapshotVersion,
        timestampVersion,
        roles: versions.size,
        unavailable: unavailable.length,
      },
      'TUF repository published',
    );
    return { published: true, snapshotVersion, timestampVersion };
  }

  private snapshotDue(
    current: ServedState,
    rootVersion: number,
    files: readonly RoleFile<Targets>[],
    unavailable: readonly UnavailableTarget[],
    now: Date,
  ): boolean {
    if (current.rootVersion !== rootVersion) return true;
    if (!current.signedBy.snapshot.includes(this.onlineKey.keyId)) return true;
    const halfLifeMs = (this.expiry.snapshotDays * 86_400_000) / 2;
    if (Date.parse(current.snapshotExpires) - now.getTime() < halfLifeMs) return true;
    if (current.roles.size !== files.length) return true;
    for (const file of files) {
      const served = current.roles.get(file.role);
      // same version, other bytes (the upstream's equivocation, logged by writeExact): the length moves
      if (served?.version !== file.version || served.length !== file.bytes.length) return true;
    }
    return JSON.stringify(current.unavailable) !== JSON.stringify(unavailable);
  }

  /** A snapshot one above the newest on disk (a crash may have left one no timestamp names). */
  private async writeSnapshot(
    versions: ReadonlyMap<string, number>,
    unavailable: readonly UnavailableTarget[],
    now: Date,
    chain: readonly string[],
  ): Promise<number> {
    const version = ((await listMetadataVersions(this.dir)).get('snapshot')?.at(-1) ?? 0) + 1;
    const snapshot = await buildSnapshot(this.dir, versions, {
      version,
      expires: expiresAfter(now, this.expiry.snapshotDays),
      unrecognizedFields: {
        [MIRROR_CHAIN_SNAPSHOT_FIELD]: [...chain],
        ...(unavailable.length > 0
          ? { [UNAVAILABLE_SNAPSHOT_FIELD]: unavailable.map((u) => ({ ...u })) }
          : {}),
      },
    });
    snapshot.sign(this.onlineKey.sign);
    await writeMetadata(this.dir, 'snapshot', snapshot, { mode: PRIVATE_FILE_MODE });
    failpoint('tuf:after-snapshot');
    return version;
  }

  private async writeTimestamp(snapshotVersion: number, now: Date): Promise<number> {
    const version = ((await readMetadata(this.dir, 'timestamp'))?.signed.version ?? 0) + 1;
    const timestamp = await buildTimestamp(this.dir, snapshotVersion, {
      version,
      expires: expiresAfter(now, this.expiry.timestampHours / 24),
    });
    timestamp.sign(this.onlineKey.sign);
    await writeMetadata(this.dir, 'timestamp', timestamp, { mode: PRIVATE_FILE_MODE });
    return version;
  }

  /** Write `bytes` as metadata/<name> unless that file already holds exactly them. */
  private async writeExact(name: string, bytes: Buffer): Promise<void> {
    const path = join(this.dir, METADATA_DIR, name);
    const existing = await readFile(path).catch(() => undefined);
    if (existing?.equals(bytes)) return;
    if (existing && name !== 'root.json') {
      // Same role and version, other bytes: the upstream signed two contents under one version.
      this.log.warn(
        { file: name },
        'the upstream changed a metadata file without a new version; serving its current bytes',
      );
    }
    await writeFileAtomic(path, bytes);
  }
}

/**
 * Every digest the TUF repository served from `dataDir` names as available (gc keeps them):
 * empty when there is none, null when it cannot be read.
 */
export async function servedTufDigests(dataDir: string): Promise<Set<string> | null> {
  try {
    const state = await readServedState(servedRepositoryDir(dataDir));
    return new Set(state?.targets.values() ?? []);
  } catch {
    return null;
  }
}

/** What the repository on disk serves: the chain timestamp -> snapshot -> roles, or null when there is no timestamp. */
export async function readServedState(dir: string): Promise<ServedState | null> {
  const timestamp = await readMetadata(dir, 'timestamp');
  if (!timestamp) return null;
  const snapshotVersion = timestamp.signed.snapshotMeta.version;
  const snapshot = await readMetadata(dir, 'snapshot', snapshotVersion);
  if (!snapshot)
    throw new Error(`timestamp.json names snapshot version ${snapshotVersion}, which is missing`);
  const roles: ServedState['roles'] = new Map();
  const unavailable = unavailableTargets(snapshot.signed);
  const withheld = new Set(unavailable.map((u) => `${u.path}\0${u.sha256}`));
  const targets = new Map<string, string>();
  for (const [key, meta] of Object.entries(snapshot.signed.meta)) {
    const role = key.slice(0, -'.json'.length);
    roles.set(role, { version: meta.version, length: meta.length });
    if (role === 'targets') continue;
    const metadata = await readMetadata(dir, role, meta.version);
    if (!metadata)
      throw new Error(
        `snapshot version ${snapshotVersion} names ${metadataFileName(role, meta.version)}, which is missing`,
      );
    for (const target of Object.values(metadata.signed.targets)) {
      const sha256 = target.hashes.sha256;
      if (sha256 === undefined || withheld.has(`${target.path}\0${sha256}`)) continue;
      targets.set(consistentTargetPath(target.path, sha256), sha256);
    }
  }
  const targetsVersion = roles.get('targets')?.version;
  if (targetsVersion === undefined)
    throw new Error(`snapshot version ${snapshotVersion} lists no ${snapshotMetaKey('targets')}`);
  const rootVersion = (await listMetadataVersions(dir)).get('root')?.at(-1);
  if (rootVersion === undefined) throw new Error('no root metadata');
  return {
    rootVersion,
    targetsVersion,
    snapshotVersion,
    snapshotExpires: snapshot.signed.expires,
    timestampVersion: timestamp.signed.version,
    timestampExpires: timestamp.signed.expires,
    roles,
    unavailable,
    targets,
    signedBy: { snapshot: Object.keys(snapshot.signatures), timestamp: Object.keys(timestamp.signatures) },
    chain: snapshotChain(snapshot.signed),
  };
}
