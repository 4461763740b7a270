// A product's installDir that does not exist is almost always a typo in the config: every
// detect rule then says "not installed", so check lists everything as available, and an
// installer would create a second, empty product tree. check warns; install refuses.
import { statSync } from 'node:fs';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { ClientConfig, FeedPatch } from '@patchbay/core';
import { productFor } from './host.js';

export interface MissingInstallDir {
  /** the config key: products[i].installDir */
  key: string;
  dir: string;
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Configured products whose installDir is not an existing directory. */
export function missingInstallDirs(config: ClientConfig): MissingInstallDir[] {
  return config.products.flatMap((p, i) =>
    isDirectory(p.installDir) ? [] : [{ key: `products[${i}].installDir`, dir: p.installDir }],
  );
}

/**
 * Feed extension: `install.createsInstallDir: true` says the patch lays down the product
 * itself (a first install), so a missing installDir is expected for it.
 */
function createsInstallDir(patch: FeedPatch): boolean {
  return (patch.install as { createsInstallDir?: unknown }).createsInstallDir === true;
}

/**
 * Refuse (PB_ERR_CONFIG, exit 2, before anything runs or is recorded) a plan with a patch
 * whose product's installDir does not exist, unless that patch says it creates it.
 */
export function assertInstallDirsExist(
  config: ClientConfig,
  order: readonly FeedPatch[],
  configFile?: string,
): void {
  const missing = new Map(missingInstallDirs(config).map((m) => [m.dir, m]));
  const refused = new Map<MissingInstallDir, string[]>();
  for (const patch of order) {
    const product = productFor(config, patch);
    const gap = product ? missing.get(product.installDir) : undefined;
    if (!gap || createsInstallDir(patch)) continue;
    refused.set(gap, [...(refused.get(gap) ?? []), patch.id]);
  }
  const [first] = refused;
  if (!first) return;
  const [{ key, dir }, ids] = first;
  throw new PatchbayError(
    ErrorCodes.CONFIG,
    `${key} ${dir} does not exist: refusing to install ${ids.join(', ')} into it (a typo in the config? ` +
      'none of these patches says it creates the directory); nothing was installed',
    { key, path: dir, ...(configFile ? { file: configFile } : {}) },
  );
}
