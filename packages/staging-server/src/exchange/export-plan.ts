// What an export holds, worked out before a byte is written (so --dry-run can print it):
// the published catalog narrowed by --product/--release, turned back into a vendor feed
// with relative file URLs, signed by the mirror's key, and the files new since --since.
import type { KeyObject } from 'node:crypto';
import {
  ErrorCodes,
  PatchbayError,
  sha256Hex,
  signDetached,
  validateFeed,
  type Catalog,
  type Feed,
  type FeedPatch,
} from '@patchbay/core';
import {
  bundleFilePath,
  FEED_FILE,
  FEED_SIGNATURE_FILE,
  jsonBytes,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_SIGNATURE_FILE,
  type ExportManifest,
} from './bundle-format.js';

export interface ExportSelection {
  /** product ids to keep (empty: all) */
  products: string[];
  /** releases to keep, of every kept product (empty: all) */
  releases: string[];
}

export interface ExportKey {
  privateKey: KeyObject;
  publicKey: string;
  fingerprint: string;
}

/** A blob to copy into the bundle. */
export interface PlannedFile {
  /** relative to the bundle root */
  path: string;
  sha256: string;
  size: number;
}

/** A small file the export writes from memory. */
export interface MetadataFile {
  path: string;
  bytes: Buffer;
}

export interface ExportPlan {
  sequence: number;
  baseSequence: number | null;
  feed: Feed;
  manifest: ExportManifest;
  /** feed.json, its signature, export.json and its signature */
  metadata: MetadataFile[];
  files: PlannedFile[];
  /** files the feed names that the base already carried (incrementals) */
  skipped: number;
  /** bytes of an unchunked export: metadata plus files (plus the TUF repository's) */
  bytes: number;
  /** trust v2: the served TUF repository (metadata/, targets/), when the server is in TUF mode */
  tuf?: TufExportPlan;
}

/** The TUF part of a plan (tuf-export.ts planTufExport): the served repository as export files. */
export interface TufExportPlan {
  /** `metadata/<name>` files, exact bytes */
  metadata: MetadataFile[];
  /** `targets/<dir>/<sha256>.<basename>` files, copied from the blob store */
  targets: PlannedFile[];
  rootVersion: number;
  targetsVersion: number;
  snapshotVersion: number;
  timestampVersion: number;
  /** delegated roles whose target files travel (the --product/--release selection) */
  roles: string[];
  /** target files left out: the base export carried them (--since) */
  skipped: number;
  /** target files the served snapshot withholds (x-patchbay-unavailable): not in the bundle either */
  unavailable: number;
  bytes: number;
}

/** Every small file the export writes from memory: the feed's, then the TUF metadata. */
export function smallFiles(plan: ExportPlan): MetadataFile[] {
  return [...plan.metadata, ...(plan.tuf?.metadata ?? [])];
}

/** Every blob the export copies from the store: the feed's files, then the TUF target files. */
export function blobFiles(plan: ExportPlan): PlannedFile[] {
  return [...plan.files, ...(plan.tuf?.targets ?? [])];
}

/** Add the TUF repository to a plan (its bytes counted). */
export function withTuf(plan: ExportPlan, tuf: TufExportPlan): ExportPlan {
  return { ...plan, tuf, bytes: plan.bytes + tuf.bytes };
}

/** Catalog fields that are the mirror's, not the feed's. */
const CATALOG_ONLY = new Set(['format', 'sequence', 'upstreamSequence', 'publishedAt', 'expiresAt']);

function usage(message: string, context: Record<string, unknown>): PatchbayError {
  return new PatchbayError(ErrorCodes.USAGE, message, context);
}

/**
 * The catalog narrowed to the selection. With `strict`, a product or release the catalog
 * does not have is a usage error naming it (a typo must not export nothing silently).
 */
export function selectFromCatalog(catalog: Catalog, selection: ExportSelection, strict = true): Catalog {
  const { products, releases } = selection;
  if (strict) {
    const known = catalog.products.map((p) => p.id);
    for (const id of products) {
      if (!known.includes(id)) {
        throw usage(
          `--product ${id}: the published catalog has no such product (it has: ${known.join(', ') || 'none'})`,
          { flag: '--product', value: id },
        );
      }
    }
    const offered = new Set(
      catalog.products
        .filter((p) => products.length === 0 || products.includes(p.id))
        .flatMap((p) => p.releases),
    );
    for (const release of releases) {
      if (!offered.has(release)) {
        throw usage(
          `--release ${release}: no selected product has this release (there are: ${[...offered].join(', ') || 'none'})`,
          { flag: '--release', value: release },
        );
      }
    }
  }
  const keptProducts = catalog.products
    .filter((p) => products.length === 0 || products.includes(p.id))
    .map((p) => ({ ...p, releases: p.releases.filter((r) => releases.length === 0 || releases.includes(r)) }))
    .filter((p) => p.releases.length > 0);
  const wanted = new Set(keptProducts.flatMap((p) => p.releases.map((r) => `${p.id}\u0000${r}`)));
  return {
    ...catalog,
    products: keptProducts,
    patches: catalog.patches.filter((p) => wanted.has(`${p.product}\u0000${p.release}`)),
  };
}

/**
 * The catalog as a vendor feed: the mirror's sequence becomes the feed's (it grows with
 * every publication, so the importing side's rollback protection works on it), and each
 * file URL points into the bundle, one copy per digest.
 */
export function catalogToFeed(catalog: Catalog): Feed {
  const paths = new Map<string, string>();
  const pathFor = (sha256: string, name: string): string => {
    let path = paths.get(sha256);
    if (path === undefined) {
      path = bundleFilePath(sha256, name);
      paths.set(sha256, path);
    }
    return path;
  };
  const extensions = Object.fromEntries(
    Object.entries(catalog).filter(
      ([key]) => !CATALOG_ONLY.has(key) && !['vendor', 'generatedAt', 'products', 'patches'].includes(key),
    ),
  );
  const patches: FeedPatch[] = catalog.patches.map((patch) => ({
    ...patch,
    files: patch.files.map((file) => ({ ...file, url: pathFor(file.sha256, file.name) })),
  }));
  const feed = {
    format: 'patchbay-feed/1' as const,
    vendor: catalog.vendor,
    sequence: catalog.sequence,
    generatedAt: catalog.generatedAt,
    ...extensions,
    products: catalog.products,
    patches,
  };
  return validateFeed(feed, 'exported feed.json');
}

/** Distinct files a feed names, with the bundle path of each. */
function feedFiles(feed: Feed): PlannedFile[] {
  const files = new Map<string, PlannedFile>();
  for (const patch of feed.patches) {
    for (const file of patch.files) {
      if (!files.has(file.sha256))
        files.set(file.sha256, { path: file.url, sha256: file.sha256, size: file.size });
    }
  }
  return [...files.values()];
}

export interface PlanInput {
  catalog: Catalog;
  /** catalog/history/<since>.json for an incremental export, else null */
  base: Catalog | null;
  selection: ExportSelection;
  key: ExportKey;
  now?: Date;
}

export function planExport(input: PlanInput): ExportPlan {
  const { catalog, base, selection, key } = input;
  const selected = selectFromCatalog(catalog, selection);
  const feed = catalogToFeed(selected);
  const feedBytes = jsonBytes(feed);
  // The base under the same selection: a file the base export did not carry is not "old".
  const baseDigests = new Set<string>();
  if (base) {
    for (const patch of selectFromCatalog(base, selection, false).patches) {
      for (const file of patch.files) baseDigests.add(file.sha256);
    }
  }
  const all = feedFiles(feed);
  const files = all.filter((file) => !baseDigests.has(file.sha256));
  const fileBytes = files.reduce((sum, file) => sum + file.size, 0);
  const manifest: ExportManifest = {
    format: MANIFEST_FORMAT,
    exporter: { fingerprint: key.fingerprint, publicKey: key.publicKey },
    sequence: catalog.sequence,
    upstreamSequence: catalog.upstreamSequence,
    baseSequence: base ? base.sequence : null,
    createdAt: (input.now ?? new Date()).toISOString(),
    filter: { products: [...selection.products], releases: [...selection.releases] },
    feed: { sha256: sha256Hex(feedBytes), size: feedBytes.length },
    files,
    bytes: fileBytes,
  };
  const manifestBytes = jsonBytes(manifest);
  const metadata: MetadataFile[] = [
    { path: MANIFEST_FILE, bytes: manifestBytes },
    { path: MANIFEST_SIGNATURE_FILE, bytes: signatureBytes(manifestBytes, key.privateKey) },
    { path: FEED_FILE, bytes: feedBytes },
    { path: FEED_SIGNATURE_FILE, bytes: signatureBytes(feedBytes, key.privateKey) },
  ];
  return {
    sequence: catalog.sequence,
    baseSequence: manifest.baseSequence,
    feed,
    manifest,
    metadata,
    files,
    skipped: all.length - files.length,
    bytes: metadata.reduce((sum, m) => sum + m.bytes.length, 0) + fileBytes,
  };
}

function signatureBytes(bytes: Buffer, privateKey: KeyObject): Buffer {
  return Buffer.from(`${signDetached(bytes, privateKey)}\n`, 'utf8');
}

/** Bytes of the tar a chunked export splits: 512-byte headers, data padded to 512, two end blocks. */
export function tarBytes(plan: ExportPlan): number {
  const block = (size: number) => Math.ceil(size / 512) * 512;
  // Long names get a pax header (a header block plus one data block) before their own.
  const header = (path: string) => (path.length > 99 ? 1536 : 512);
  let total = 1024;
  const dirs = new Set<string>();
  const addDirs = (path: string) => {
    for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
      dirs.add(path.slice(0, slash + 1));
    }
  };
  for (const m of smallFiles(plan)) {
    addDirs(m.path);
    total += header(m.path) + block(m.bytes.length);
  }
  for (const file of blobFiles(plan)) {
    addDirs(file.path);
    total += header(file.path) + block(file.size);
  }
  for (const dir of dirs) total += header(dir);
  return total;
}
