// One publication: the new versions a command makes of the targets roles, staged in memory
// and written together by commit() — delegated roles first, then targets, then a snapshot
// and timestamp over what is on disk, so a reader never sees the timestamp name a snapshot
// that names a file not yet written. Each new version is signed with the keys the keyring holds.
import { Metadata, MetadataKind } from '@tufjs/models';
import type { Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import {
  SPEC_VERSION,
  buildSnapshot,
  buildTimestamp,
  expiresAfter,
  loadRepository,
  metadataFileName,
  newestVersion,
  nextVersion,
  signWith,
  writeMetadata,
  type LoadedRepository,
} from '@patchbay/core/tuf';
import { loadKeyring, type Keyring } from './keyring.js';
import { readSettings, type PublisherSettings } from './settings.js';

type AnySigned = Root | Targets | Snapshot | Timestamp;

/** A metadata version a command wrote, and how far it is signed. */
export interface WrittenRole {
  role: string;
  version: number;
  file: string;
  /** valid signatures by the role's keys */
  signatures: number;
  threshold: number;
}

/** Signatures on `metadata` by distinct key ids of `keyIds` (the ones this tool made are valid). */
export function countSignatures(metadata: Metadata<AnySigned>, keyIds: readonly string[]): number {
  return new Set(keyIds.filter((id) => metadata.signatures[id] !== undefined)).size;
}

/** Write `metadata` as the role's next version file in `repoDir`, and say how far it is signed. */
export async function writeRole(
  repoDir: string,
  role: string,
  metadata: Metadata<AnySigned>,
  keyIds: readonly string[],
  threshold: number,
): Promise<WrittenRole> {
  await writeMetadata(repoDir, role, metadata);
  return {
    role,
    version: metadata.signed.version,
    file: metadataFileName(role, metadata.signed.version),
    signatures: countSignatures(metadata, keyIds),
    threshold,
  };
}

/** Metadata from its JSON form (the way to build delegations: @tufjs/models exports no DelegatedRole). */
export function metadataFromJson<T extends AnySigned>(kind: MetadataKind, json: unknown): Metadata<T> {
  return Metadata.fromJSON(
    kind as MetadataKind.Targets,
    json as Parameters<typeof Metadata.fromJSON>[1],
  ) as unknown as Metadata<T>;
}

interface TargetsJson {
  signed: { delegations?: DelegationJson };
  signatures: unknown[];
}

interface DelegationJson {
  keys: Record<string, unknown>;
  roles: { name: string; keyids: string[]; threshold: number; terminating: boolean; paths: string[] }[];
}

export class RepositoryEdit {
  readonly #staged = new Map<string, Metadata<Targets>>();
  #targets: Metadata<Targets> | undefined;

  constructor(
    readonly repo: LoadedRepository,
    readonly keyring: Keyring,
    readonly settings: PublisherSettings,
    readonly now: Date,
  ) {}

  /** An edit of the repository in `repoDir` (its settings included), signed with the keys in `keysDir`. */
  static async open(repoDir: string, keysDir: string, now: Date): Promise<RepositoryEdit> {
    return new RepositoryEdit(
      await loadRepository(repoDir),
      await loadKeyring(keysDir),
      await readSettings(repoDir),
      now,
    );
  }

  /** The targets metadata as this edit will publish it (the current version until something changes it). */
  currentTargets(): Metadata<Targets> {
    return this.#targets ?? this.repo.targets;
  }

  /** The next version of the top-level targets, made on first use. */
  targets(): Metadata<Targets> {
    this.#targets ??= nextVersion(this.repo.targets, expiresAfter(this.now, this.settings.expires.targets));
    return this.#targets;
  }

  /** Names of the delegated roles after this edit, in delegation order. */
  roleNames(): string[] {
    return Object.keys(this.currentTargets().signed.delegations?.roles ?? {});
  }

  /** A delegated role as this edit will publish it (current version, or the staged next one). */
  currentRole(name: string): Metadata<Targets> | undefined {
    return this.#staged.get(name) ?? this.repo.roles.get(name);
  }

  /** The next version of a delegated role (the delegation must exist), made on first use. */
  role(name: string): Metadata<Targets> {
    const staged = this.#staged.get(name);
    if (staged) return staged;
    const current = this.repo.roles.get(name);
    if (!current)
      throw new PatchbayError(ErrorCodes.TUF_REPOSITORY, `no delegated role ${name}`, { role: name });
    const next = nextVersion(current, expiresAfter(this.now, this.settings.expires.targets));
    this.#staged.set(name, next);
    return next;
  }

  /** Mark a role changed without changing its content (re-signing under new keys). */
  touchRole(name: string): void {
    this.role(name);
  }

  /**
   * Delegate `paths` to a new terminating role `name` (keys: the publisher's delegation keys,
   * by default the root's targets keys) and stage its first version, with no targets.
   */
  async addDelegation(name: string, paths: string[]): Promise<Metadata<Targets>> {
    const { keys, keyids, threshold } = this.delegationKeys();
    const json = this.targets().toJSON() as unknown as TargetsJson;
    const delegations = json.signed.delegations ?? { keys: {}, roles: [] };
    delegations.keys = { ...delegations.keys, ...keys };
    delegations.roles = [...delegations.roles, { name, keyids, threshold, terminating: true, paths }];
    json.signed.delegations = delegations;
    json.signatures = [];
    this.#targets = metadataFromJson<Targets>(MetadataKind.Targets, json);
    // A role removed once may have left files behind: its versions still only grow.
    const version = ((await newestVersion(this.repo.dir, name)) ?? 0) + 1;
    const role = metadataFromJson<Targets>(MetadataKind.Targets, {
      signed: {
        _type: 'targets',
        spec_version: SPEC_VERSION,
        version,
        expires: expiresAfter(this.now, this.settings.expires.targets),
        targets: {},
      },
      signatures: [],
    });
    this.#staged.set(name, role);
    return role;
  }

  /**
   * Give every delegated role the key ids and threshold given (targets keys rotated), staging
   * targets and each role so that they are signed anew.
   */
  rekeyDelegations(keys: Record<string, unknown>, keyids: string[], threshold: number): void {
    const json = this.targets().toJSON() as unknown as TargetsJson;
    const delegations = json.signed.delegations;
    if (!delegations || delegations.roles.length === 0) return;
    delegations.roles = delegations.roles.map((role) => ({ ...role, keyids, threshold }));
    const used = new Set(delegations.roles.flatMap((role) => role.keyids));
    delegations.keys = Object.fromEntries(
      Object.entries({ ...delegations.keys, ...keys }).filter(([id]) => used.has(id)),
    );
    json.signatures = [];
    this.#targets = metadataFromJson<Targets>(MetadataKind.Targets, json);
    for (const role of delegations.roles) this.touchRole(role.name);
  }

  /** The keys new delegations get: publisher.json's delegation keys, else the root's targets keys. */
  delegationKeys(): { keys: Record<string, unknown>; keyids: string[]; threshold: number } {
    const configured = this.settings.delegation;
    if (configured)
      return { keys: configured.keys, keyids: configured.keyids, threshold: configured.threshold };
    const root = this.repo.root.signed;
    const role = root.roles.targets!;
    const keys = Object.fromEntries(role.keyIDs.map((id) => [id, root.keys[id]!.toJSON()]));
    return { keys, keyids: [...role.keyIDs], threshold: role.threshold };
  }

  /** True when this edit has something to write. */
  get changed(): boolean {
    return this.#targets !== undefined || this.#staged.size > 0;
  }

  /**
   * Sign and write the staged versions (delegated roles, then targets), then, with
   * `snapshot` (default when something changed), a new snapshot and timestamp.
   */
  async commit(opts: { snapshot?: boolean } = {}): Promise<WrittenRole[]> {
    const written: WrittenRole[] = [];
    const signers = this.keyring.signers();
    const targets = this.currentTargets();
    for (const [name, metadata] of this.#staged) {
      const delegation = targets.signed.delegations?.roles?.[name];
      if (!delegation)
        throw new PatchbayError(ErrorCodes.TUF_REPOSITORY, `role ${name} is not delegated`, { role: name });
      written.push(await this.#signAndWrite(name, metadata, delegation, signers));
    }
    if (this.#targets) {
      const role = this.repo.root.signed.roles.targets!;
      written.push(await this.#signAndWrite('targets', this.#targets, role, signers));
    }
    if (opts.snapshot ?? written.length > 0) written.push(...(await this.publishSnapshot()));
    return written;
  }

  /** A new snapshot over the newest targets roles on disk, then a new timestamp for it. */
  async publishSnapshot(): Promise<WrittenRole[]> {
    const versions = new Map<string, number>([['targets', this.currentTargets().signed.version]]);
    for (const name of this.roleNames()) {
      const role = this.currentRole(name);
      if (!role)
        throw new PatchbayError(ErrorCodes.TUF_REPOSITORY, `delegated role ${name} has no metadata`, {
          role: name,
        });
      versions.set(name, role.signed.version);
    }
    const snapshot = await buildSnapshot(this.repo.dir, versions, {
      version: this.repo.snapshot.signed.version + 1,
      expires: expiresAfter(this.now, this.settings.expires.snapshot),
    });
    const role = this.repo.root.signed.roles.snapshot!;
    const written = await this.#signAndWrite('snapshot', snapshot, role, this.keyring.signers());
    return [written, await this.publishTimestamp(snapshot.signed.version)];
  }

  /** A new timestamp for snapshot `snapshotVersion` (default: the current one). */
  async publishTimestamp(snapshotVersion = this.repo.snapshot.signed.version): Promise<WrittenRole> {
    const timestamp = await buildTimestamp(this.repo.dir, snapshotVersion, {
      version: this.repo.timestamp.signed.version + 1,
      expires: expiresAfter(this.now, this.settings.expires.timestamp),
    });
    const role = this.repo.root.signed.roles.timestamp!;
    return this.#signAndWrite('timestamp', timestamp, role, this.keyring.signers());
  }

  /** Sign with the role's keys this keyring holds, then write (`keys`: the role as root or targets lists it). */
  async #signAndWrite(
    role: string,
    metadata: Metadata<AnySigned>,
    keys: { keyIDs: readonly string[]; threshold: number },
    signers: Parameters<typeof signWith>[2],
  ): Promise<WrittenRole> {
    signWith(metadata, keys.keyIDs, signers);
    return writeRole(this.repo.dir, role, metadata, keys.keyIDs, keys.threshold);
  }
}
