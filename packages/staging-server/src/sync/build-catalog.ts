// The mirror catalog: the (filtered) feed's shape, held-back patches removed,
// file URLs pointing at this server's blob store.
import { isDeepStrictEqual } from 'node:util';
import type { Catalog, Feed, FeedPatch } from '@patchbay/core';

export function blobUrl(sha256: string): string {
  return `/v1/blobs/sha256/${sha256}`;
}

export interface CatalogMeta {
  sequence: number;
  publishedAt: string;
  /** signing time + signing.expiryDays */
  expiresAt: string;
  /**
   * tiered mirrors: the upstream's chain plus this mirror's key fingerprint (tiers/mirror-chain.ts).
   * Absent: a chain the feed carries is kept as it is.
   */
  mirrorChain?: string[];
}

/** Unknown patch (and top-level) fields from the feed are carried through unchanged. */
export function buildCatalog(feed: Feed, heldBack: ReadonlySet<string>, meta: CatalogMeta): Catalog {
  const { format: _format, sequence, vendor, generatedAt, products, patches, ...extensions } = feed;
  const catalog: Catalog = {
    format: 'patchbay-catalog/1',
    vendor,
    sequence: meta.sequence,
    upstreamSequence: sequence,
    generatedAt,
    publishedAt: meta.publishedAt,
    expiresAt: meta.expiresAt,
    products,
    patches: patches.filter((p) => !heldBack.has(p.id)).map(toCatalogPatch),
  };
  const built: Catalog = { ...catalog, ...dropKnown(extensions, catalog) };
  // mirrorChain is an extension the core Catalog type does not declare.
  return meta.mirrorChain ? ({ ...built, mirrorChain: meta.mirrorChain } as Catalog) : built;
}

/** The same catalog as a new publication: new sequence and times, same content (re-signing before expiry). */
export function republishCatalog(catalog: Catalog, meta: CatalogMeta): Catalog {
  return { ...catalog, sequence: meta.sequence, publishedAt: meta.publishedAt, expiresAt: meta.expiresAt };
}

function toCatalogPatch(patch: FeedPatch): FeedPatch {
  return { ...patch, files: patch.files.map((file) => ({ ...file, url: blobUrl(file.sha256) })) };
}

/** Top-level extension fields must never override the catalog's own fields. */
function dropKnown(extensions: Record<string, unknown>, catalog: Catalog): Record<string, unknown> {
  return Object.fromEntries(Object.entries(extensions).filter(([key]) => !(key in catalog)));
}

/**
 * True when two catalogs offer the same content (vendor, products, patches):
 * the mirror then keeps its current publication instead of bumping the sequence.
 */
export function sameCatalogContent(a: Catalog, b: Catalog): boolean {
  // The upstream sequence counts as content: a catalog says which vendor publication it reflects,
  // even when that publication's only news was held back.
  return (
    a.upstreamSequence === b.upstreamSequence &&
    a.vendor === b.vendor &&
    isDeepStrictEqual(chainField(a), chainField(b)) &&
    isDeepStrictEqual(a.products, b.products) &&
    isDeepStrictEqual(a.patches, b.patches)
  );
}

/** The catalog's mirrorChain (an extension the Catalog type does not declare), or undefined. */
function chainField(catalog: Catalog): unknown {
  return (catalog as { mirrorChain?: unknown }).mirrorChain;
}

/** Distinct blobs a catalog names, with their sizes. */
export function catalogBlobs(catalog: Catalog): Map<string, number> {
  const blobs = new Map<string, number>();
  for (const patch of catalog.patches) for (const file of patch.files) blobs.set(file.sha256, file.size);
  return blobs;
}
