// The mirror's product/release filter (config.mirror.products; absent = everything).
import type { Feed, ServerConfig } from '@patchbay/core';

export type ProductFilter = ServerConfig['mirror']['products'];

/** The feed restricted to the configured products and releases; the input is not changed. */
export function filterFeed(feed: Feed, filter: ProductFilter): Feed {
  if (!filter) return feed;
  const wanted = new Map<string, Set<string> | null>();
  for (const entry of filter) {
    wanted.set(entry.id, entry.releases ? new Set(entry.releases) : null);
  }
  const releaseWanted = (product: string, release: string): boolean => {
    if (!wanted.has(product)) return false;
    const releases = wanted.get(product);
    return !releases || releases.has(release);
  };
  return {
    ...feed,
    products: feed.products
      .filter((product) => wanted.has(product.id))
      .map((product) => ({
        ...product,
        releases: product.releases.filter((r) => releaseWanted(product.id, r)),
      })),
    patches: feed.patches.filter((patch) => releaseWanted(patch.product, patch.release)),
  };
}

/** Configured product ids the feed does not know (worth a warning: probably a typo). */
export function unknownFilterProducts(feed: Feed, filter: ProductFilter): string[] {
  if (!filter) return [];
  const known = new Set(feed.products.map((p) => p.id));
  return filter.map((entry) => entry.id).filter((id) => !known.has(id));
}
