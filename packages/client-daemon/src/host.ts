import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type {
  Catalog,
  ClientConfig,
  ClientProduct,
  FeedPatch,
  HostProfile,
  PlaceholderContext,
} from '@patchbay/core';

export function hostProfile(config: ClientConfig): HostProfile {
  return {
    products: config.products.map((p) => ({ id: p.id, release: p.release })),
    platform: process.platform,
  };
}

/** The configured product a patch belongs to (its installDir is the patch's {installDir}). */
export function productFor(config: ClientConfig, patch: FeedPatch): ClientProduct | undefined {
  return config.products.find((p) => p.id === patch.product && p.release === patch.release);
}

/** Placeholder values for a patch; `files` maps each file name to its verified path. */
export function placeholderContext(
  config: ClientConfig,
  patch: FeedPatch,
  files: Record<string, string>,
): PlaceholderContext {
  const product = productFor(config, patch);
  if (!product) {
    throw new PatchbayError(
      ErrorCodes.UNKNOWN_PRODUCT,
      `patch ${patch.id} is for ${patch.product} ${patch.release}, which this host's config does not list`,
      { patchId: patch.id, product: patch.product, release: patch.release },
    );
  }
  return {
    files,
    installDir: product.installDir,
    release: patch.release,
    patchId: patch.id,
    dataDir: config.dataDir,
  };
}

/**
 * Every configured product must be one the catalog knows, in a release it lists;
 * otherwise the config is wrong (exit 2) and the message names the key.
 */
export function assertProductsKnown(config: ClientConfig, catalog: Catalog): void {
  config.products.forEach((configured, i) => {
    const known = catalog.products.find((p) => p.id === configured.id);
    if (!known) {
      throw new PatchbayError(
        ErrorCodes.UNKNOWN_PRODUCT,
        `products[${i}].id: the catalog has no product "${configured.id}" (known: ${catalog.products.map((p) => p.id).join(', ') || 'none'})`,
        { key: `products[${i}].id`, product: configured.id },
      );
    }
    if (!known.releases.includes(configured.release)) {
      throw new PatchbayError(
        ErrorCodes.UNKNOWN_PRODUCT,
        `products[${i}].release: product "${configured.id}" has no release "${configured.release}" (known: ${known.releases.join(', ')})`,
        { key: `products[${i}].release`, product: configured.id, release: configured.release },
      );
    }
  });
}
