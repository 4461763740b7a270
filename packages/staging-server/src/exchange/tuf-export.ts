// Trust v2 export (docs/topologies.md "Air-gapped: export and import"): beside the feed
// directory, a TUF-mode server's export carries the repository it serves, so the bundle is a
// TUF repository itself: metadata/ as served (every root version, root.json, timestamp.json,
// the snapshot it names and the targets roles that snapshot lists, byte for byte) and
// targets/<dir>/<sha256>.<basename> copied from the blob store (consistent snapshots).
//
// Read without the data-dir lock, beside `serve`: timestamp.json is read once and everything
// else follows from its bytes; versioned files are written once and never change, so a
// publication during the export cannot mix two states.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import {
  METADATA_DIR,
  TARGETS_DIR,
  consistentTargetPath,
  isSafeTargetPath,
  listMetadataVersions,
  metadataFileName,
  parseMetadata,
  parseRoleName,
  unavailableTargets,
} from '@patchbay/core/tuf';
import type { Snapshot, Targets, Timestamp } from '@tufjs/models';
import { servedRepositoryDir } from '../tuf/served-repository.js';
import type { ExportSelection, PlannedFile, TufExportPlan } from './export-plan.js';

function roleSelected(role: string, selection: ExportSelection): boolean {
  const parsed = parseRoleName(role);
  if (!parsed) return selection.products.length === 0 && selection.releases.length === 0;
  return (
    (selection.products.length === 0 || selection.products.includes(parsed.product)) &&
    (selection.releases.length === 0 || selection.releases.includes(parsed.release))
  );
}

function nothingServed(dir: string, why: string): PatchbayError {
  return new PatchbayError(
    ErrorCodes.NO_CATALOG,
    `the served TUF repository in ${dir} ${why}; run sync (or import) first: an export of a TUF-mode server carries it`,
    { dir },
  );
}

/**
 * The repository this server serves, as export files. `baseDigests`: the SHA-256 of every file
 * the base export carried (--since), whose target files are left out; descriptors always travel.
 */
export async function planTufExport(
  dataDir: string,
  selection: ExportSelection,
  baseDigests: ReadonlySet<string>,
): Promise<TufExportPlan> {
  const dir = servedRepositoryDir(dataDir);
  const metaDir = join(dir, METADATA_DIR);
  const read = async (name: string): Promise<Buffer> => {
    try {
      return await readFile(join(metaDir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw nothingServed(dir, `has no ${name}`);
      throw err;
    }
  };
  const metadata = new Map<string, Buffer>();

  const timestampBytes = await read('timestamp.json');
  const timestamp = parseMetadata('timestamp', timestampBytes, 'timestamp.json').signed as Timestamp;
  metadata.set('timestamp.json', timestampBytes);
  const snapshotVersion = timestamp.snapshotMeta.version;
  const snapshotName = metadataFileName('snapshot', snapshotVersion);
  const snapshotBytes = await read(snapshotName);
  const snapshot = parseMetadata('snapshot', snapshotBytes, snapshotName).signed as Snapshot;
  metadata.set(snapshotName, snapshotBytes);

  const withheld = new Set(unavailableTargets(snapshot).map((u) => `${u.path}\0${u.sha256}`));
  const targets = new Map<string, PlannedFile>();
  const roles: string[] = [];
  let targetsVersion = 0;
  let skipped = 0;
  let unavailable = 0;
  for (const [key, meta] of Object.entries(snapshot.meta)) {
    const role = key.slice(0, -'.json'.length);
    const name = metadataFileName(role, meta.version);
    const bytes = await read(name);
    metadata.set(name, bytes);
    if (role === 'targets') targetsVersion = meta.version;
    if (!roleSelected(role, selection)) continue;
    const signed = parseMetadata('targets', bytes, name).signed as Targets;
    if (role !== 'targets') roles.push(role);
    for (const target of Object.values(signed.targets)) {
      const sha256 = target.hashes.sha256;
      // what the server does not serve is not exported either (the importer checks the rest)
      if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256) || !isSafeTargetPath(target.path)) continue;
      if (withheld.has(`${target.path}\0${sha256}`)) {
        unavailable += 1;
        continue;
      }
      if (baseDigests.has(sha256)) {
        skipped += 1;
        continue;
      }
      const path = `${TARGETS_DIR}/${consistentTargetPath(target.path, sha256)}`;
      targets.set(path, { path, sha256, size: target.length });
    }
  }
  if (targetsVersion === 0) throw nothingServed(dir, `has a snapshot (${snapshotName}) listing no targets`);

  // every root version (hosts and importers walk them), and root.json = the newest
  const rootVersions = (await listMetadataVersions(dir)).get('root') ?? [];
  if (rootVersions.length === 0) throw nothingServed(dir, 'has no root metadata');
  let newestRoot: Buffer | undefined;
  for (const version of rootVersions) {
    newestRoot = await read(metadataFileName('root', version));
    metadata.set(metadataFileName('root', version), newestRoot);
  }
  metadata.set('root.json', newestRoot!);

  const metadataFiles = [...metadata]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, bytes]) => ({ path: `${METADATA_DIR}/${name}`, bytes }));
  const targetFiles = [...targets.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    metadata: metadataFiles,
    targets: targetFiles,
    rootVersion: rootVersions.at(-1)!,
    targetsVersion,
    snapshotVersion,
    timestampVersion: timestamp.version,
    roles: roles.sort(),
    skipped,
    unavailable,
    bytes:
      metadataFiles.reduce((sum, m) => sum + m.bytes.length, 0) +
      targetFiles.reduce((sum, f) => sum + f.size, 0),
  };
}
