// What an import run hands the import of its bundle's kind (a feed bundle in import-run.ts, a
// TUF repository in tuf-import.ts) and what both return: kept apart from either, so neither
// needs the other's module for them.
import { errorMessage, type ContentStore, type Logger } from '@patchbay/core';
import type { PublishedCatalog } from '../mirror.js';
import type { CatalogStore } from '../store/catalog-store.js';
import type { CatalogSigner } from '../trust/mirror-key.js';
import type { ImportSource, SourceKind } from './import-source.js';

export interface ImportContext {
  signer: CatalogSigner;
  store: ContentStore;
  source: ImportSource;
  paths: readonly string[];
  margin: number;
}

/** What a TUF import verified and published (`import --json` `tuf`). */
export interface TufImportSummary {
  rootVersion: number;
  targetsVersion: number;
  /** the imported delegated roles and their versions */
  roles: Record<string, number>;
  /** delegated roles of the bundle left out, with why (mirror.products, not in the bundle's snapshot) */
  skipped: { role: string; reason: string }[];
  /** this server's snapshot and timestamp after the import */
  snapshotVersion: number;
  timestampVersion: number;
  /** target files withheld (x-patchbay-unavailable): the exporter withheld them, or they cannot be mirrored */
  unavailable: number;
}

export interface ImportResult {
  outcome: 'ok';
  kind: SourceKind;
  source: string;
  /** the exporting mirror's key fingerprint (null: a plain feed directory) */
  exporter: string | null;
  sequence: number;
  baseSequence: number | null;
  /** false when this feed sequence was imported (or synced) before */
  newFeed: boolean;
  filesStored: number;
  bytesStored: number;
  /** files the bundle left out (or repeated) that the store already had */
  filesAlreadyPresent: number;
  published: boolean;
  mirrorSequence: number;
  patches: number;
  signatureVerified: boolean;
  /** trust v2: what a TUF-mode import verified and published (absent for a feed import) */
  tuf?: TufImportSummary;
}

/** The catalog this server publishes now; null (with a warning) when there is none or it is unusable. */
export async function loadCurrent(
  catalogs: CatalogStore,
  signer: CatalogSigner,
  log: Logger,
): Promise<PublishedCatalog | null> {
  try {
    return (await catalogs.loadCurrent(signer))?.published ?? null;
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'published catalog is unusable; the import publishes a new one');
    return null;
  }
}
