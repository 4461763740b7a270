// patchbay-publish init: a new repository, version 1 of every top-level role, and the keys
// the publisher holds (root keys may instead be named by public key, held elsewhere).
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MetadataKind } from '@tufjs/models';
import type { Root, Targets } from '@tufjs/models';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import {
  METADATA_DIR,
  PATCHBAY_TARGETS_FIELD,
  SPEC_VERSION,
  buildSnapshot,
  buildTimestamp,
  expiresAfter,
  readPublicKeyFile,
  signWith,
  tufKey,
} from '@patchbay/core/tuf';
import { metadataFromJson, writeRole, type WrittenRole } from '../edit.js';
import { Keyring, generateKeyFiles, readKeyFiles, type HeldKey } from '../keyring.js';
import { describeWritten, type Outcome } from '../outcome.js';
import { writeSettings, type Expiries, type PublisherSettings } from '../settings.js';

export interface InitOptions {
  repo: string;
  keys: string;
  /** root keys generated here */
  rootKeys: number;
  /** root public key files held elsewhere */
  rootKeyFiles: string[];
  rootThreshold: number;
  targetsKeys: number;
  targetsThreshold: number;
  /**
   * targets public key files held elsewhere (a staging server's online.key.pub for signing.targets
   * "mirror"): no targets keys are generated, nothing is signed with them here, and init writes
   * root version 1 only; snapshot and timestamp are then the --online-key keys when given
   */
  targetsKeyFiles?: string[];
  /** staging servers' online public keys, added to snapshot and timestamp */
  onlineKeyFiles: string[];
  /** own keys for the delegated roles (default: the targets keys) */
  delegationKeyFiles: string[];
  delegationThreshold: number;
  vendor: string | undefined;
  expires: Expiries;
  /** sign root version 1 with the root keys generated here (false: collect every signature with `sign`) */
  signRoot: boolean;
  /**
   * take the key pairs already in `keys` (root-N, targets-N, snapshot, timestamp: `.key` 0600 and
   * `.pub`) instead of generating them, e.g. keys made beforehand with `keygen`
   */
  existingKeys?: boolean;
  now: Date;
}

interface RoleKeys {
  keys: { keyId: string; json: Record<string, unknown>; file?: string; publicFile: string }[];
  threshold: number;
}

export async function init(opts: InitOptions): Promise<Outcome> {
  checkCounts(opts);
  // Targets held elsewhere: none generated here, and nothing to sign targets version 1 with.
  const targetsElsewhere = (opts.targetsKeyFiles ?? []).length > 0;
  const targetsKeys = targetsElsewhere ? 0 : opts.targetsKeys;
  const onlineOnly = targetsElsewhere && opts.onlineKeyFiles.length > 0;
  if (await hasMetadata(opts.repo)) {
    throw new PatchbayError(
      ErrorCodes.TUF_REPOSITORY,
      `${opts.repo} already holds a repository (${join(opts.repo, METADATA_DIR)}); init makes new ones only`,
      { repo: opts.repo },
    );
  }
  const names = [
    ...range(opts.rootKeys).map((i) => `root-${i}`),
    ...range(targetsKeys).map((i) => `targets-${i}`),
    ...(onlineOnly ? [] : ['snapshot', 'timestamp']),
  ];
  for (const name of names) {
    if (opts.existingKeys) {
      for (const file of [`${name}.key`, `${name}.pub`]) {
        if (!(await exists(join(opts.keys, file)))) {
          throw new PatchbayError(
            ErrorCodes.KEY_FILE,
            `key file ${join(opts.keys, file)} does not exist; --existing-keys takes ${names.map((n) => `${n}.key`).join(', ')} and their .pub files from --keys`,
            { keyFile: join(opts.keys, file) },
          );
        }
      }
    } else if (await exists(join(opts.keys, `${name}.key`))) {
      throw new PatchbayError(
        ErrorCodes.KEY_FILE,
        `key file ${join(opts.keys, `${name}.key`)} already exists; init refuses to overwrite keys`,
        {
          keyFile: join(opts.keys, `${name}.key`),
        },
      );
    }
  }
  // Public keys held elsewhere are read before anything is written.
  const external = async (files: string[]) =>
    Promise.all(files.map(async (file) => ({ file, key: tufKey(await readPublicKeyFile(file)) })));
  const rootExternal = await external(opts.rootKeyFiles);
  const online = await external(opts.onlineKeyFiles);
  const delegation = await external(opts.delegationKeyFiles);
  const targetsExternal = await external(opts.targetsKeyFiles ?? []);

  const keyring = new Keyring();
  const generate = async (name: string) => {
    const held = opts.existingKeys
      ? await readKeyFiles(opts.keys, name)
      : await generateKeyFiles(opts.keys, name);
    keyring.add(held);
    return held;
  };
  const generated = (held: HeldKey & { publicFile: string }) => ({
    keyId: held.keyId,
    json: tufKey(held.privateKey).toJSON(),
    file: held.file,
    publicFile: held.publicFile,
  });
  const named = ({ file, key }: { file: string; key: ReturnType<typeof tufKey> }) => ({
    keyId: key.keyID,
    json: key.toJSON(),
    publicFile: file,
  });
  const roles: Record<'root' | 'targets' | 'snapshot' | 'timestamp', RoleKeys> = {
    root: {
      keys: [
        ...(await sequential(range(opts.rootKeys), (i) => generate(`root-${i}`))).map(generated),
        ...rootExternal.map(named),
      ],
      threshold: opts.rootThreshold,
    },
    targets: {
      keys: [
        ...(await sequential(range(targetsKeys), (i) => generate(`targets-${i}`))).map(generated),
        ...targetsExternal.map(named),
      ],
      threshold: opts.targetsThreshold,
    },
    snapshot: {
      keys: [...(onlineOnly ? [] : [generated(await generate('snapshot'))]), ...online.map(named)],
      threshold: 1,
    },
    timestamp: {
      keys: [...(onlineOnly ? [] : [generated(await generate('timestamp'))]), ...online.map(named)],
      threshold: 1,
    },
  };

  const keys: Record<string, unknown> = {};
  for (const role of Object.values(roles)) for (const key of role.keys) keys[key.keyId] = key.json;
  const root = metadataFromJson<Root>(MetadataKind.Root, {
    signed: {
      _type: 'root',
      spec_version: SPEC_VERSION,
      version: 1,
      expires: expiresAfter(opts.now, opts.expires.root),
      consistent_snapshot: true,
      keys,
      roles: Object.fromEntries(
        Object.entries(roles).map(([name, role]) => [
          name,
          { keyids: unique(role.keys.map((k) => k.keyId)), threshold: role.threshold },
        ]),
      ),
    },
    signatures: [],
  });
  const targets = metadataFromJson<Targets>(MetadataKind.Targets, {
    signed: {
      _type: 'targets',
      spec_version: SPEC_VERSION,
      version: 1,
      expires: expiresAfter(opts.now, opts.expires.targets),
      targets: {},
      [PATCHBAY_TARGETS_FIELD]:
        opts.vendor === undefined ? { products: [] } : { vendor: opts.vendor, products: [] },
    },
    signatures: [],
  });

  const signers = keyring.signers();
  const written: WrittenRole[] = [];
  const write = async (
    role: string,
    metadata: Parameters<typeof writeRole>[2],
    keyIds: string[],
    threshold: number,
  ) => {
    signWith(metadata, keyIds, signers);
    written.push(await writeRole(opts.repo, role, metadata, keyIds, threshold));
  };
  const ids = (role: keyof typeof roles) => unique(roles[role].keys.map((k) => k.keyId));
  await write('root', root, opts.signRoot ? ids('root') : [], opts.rootThreshold);
  if (!targetsElsewhere) {
    await write('targets', targets, ids('targets'), opts.targetsThreshold);
    const snapshot = await buildSnapshot(opts.repo, new Map([['targets', 1]]), {
      version: 1,
      expires: expiresAfter(opts.now, opts.expires.snapshot),
    });
    await write('snapshot', snapshot, ids('snapshot'), 1);
    const timestamp = await buildTimestamp(opts.repo, 1, {
      version: 1,
      expires: expiresAfter(opts.now, opts.expires.timestamp),
    });
    await write('timestamp', timestamp, ids('timestamp'), 1);
  }

  const settings: PublisherSettings = { expires: opts.expires };
  if (delegation.length > 0) {
    settings.delegation = {
      keys: Object.fromEntries(delegation.map(({ key }) => [key.keyID, key.toJSON()])),
      keyids: unique(delegation.map(({ key }) => key.keyID)),
      threshold: opts.delegationThreshold,
    };
  }
  await writeSettings(opts.repo, settings);

  const keyReport = Object.fromEntries(
    Object.entries(roles).map(([name, role]) => [
      name,
      {
        threshold: role.threshold,
        keys: role.keys.map(({ keyId, file, publicFile }) => ({
          keyId,
          privateKeyFile: file ?? null,
          publicKeyFile: publicFile,
        })),
      },
    ]),
  );
  const lines = [`new repository in ${opts.repo}`];
  for (const [name, role] of Object.entries(roles)) {
    lines.push(`  ${name} (threshold ${role.threshold}):`);
    for (const key of role.keys)
      lines.push(`    ${key.keyId}  ${key.file ?? `${key.publicFile} (held elsewhere)`}`);
  }
  lines.push(...written.map(describeWritten));
  if (targetsElsewhere) {
    lines.push(
      `  root only: targets are signed where the targets key is held; for a staging server with signing.targets "mirror", ` +
        `copy ${join(opts.repo, METADATA_DIR)} to it and set signing.root to its root.json (hosts: trust.root = ${join(opts.repo, METADATA_DIR, '1.root.json')})`,
    );
  }
  return { ok: true, json: { repo: opts.repo, roles: keyReport, written }, lines };
}

function checkCounts(opts: InitOptions): void {
  const usage = (message: string) => new PatchbayError(ErrorCodes.USAGE, message, {});
  const rootCount = opts.rootKeys + opts.rootKeyFiles.length;
  if (rootCount < 1) throw usage('init needs at least one root key (--root-keys N or --root-key PUBFILE)');
  if (opts.rootThreshold < 1 || opts.rootThreshold > rootCount) {
    throw usage(`--root-threshold must be between 1 and the ${rootCount} root key(s)`);
  }
  const targetsFiles = (opts.targetsKeyFiles ?? []).length;
  if (targetsFiles > 0) {
    if (opts.targetsThreshold < 1 || opts.targetsThreshold > targetsFiles) {
      throw usage(`--targets-threshold must be between 1 and the ${targetsFiles} --targets-key(s)`);
    }
    if (opts.delegationKeyFiles.length > 0) {
      throw usage(
        '--delegation-key is for a repository whose targets are signed here; not with --targets-key',
      );
    }
  } else {
    if (opts.targetsKeys < 1) throw usage('--targets-keys must be at least 1');
    if (opts.targetsThreshold < 1 || opts.targetsThreshold > opts.targetsKeys) {
      throw usage(`--targets-threshold must be between 1 and --targets-keys (${opts.targetsKeys})`);
    }
  }
  if (
    opts.delegationKeyFiles.length > 0 &&
    (opts.delegationThreshold < 1 || opts.delegationThreshold > opts.delegationKeyFiles.length)
  ) {
    throw usage(
      `--delegation-threshold must be between 1 and the ${opts.delegationKeyFiles.length} --delegation-key(s)`,
    );
  }
}

async function hasMetadata(repo: string): Promise<boolean> {
  try {
    return (await readdir(join(repo, METADATA_DIR))).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}

async function sequential<T, R>(items: T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await run(item));
  return results;
}
