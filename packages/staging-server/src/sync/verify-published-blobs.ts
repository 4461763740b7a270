// The publication rule: a catalog never names a blob that is not in the store.
import { stat } from 'node:fs/promises';
import { ErrorCodes, PatchbayError, type Catalog, type ContentStore } from '@patchbay/core';
import { catalogBlobs } from './build-catalog.js';

/**
 * Stat every blob the catalog names (size must match too). Throws, naming the
 * blobs, when any is missing: the caller then does not publish.
 */
export async function assertBlobsPresent(catalog: Catalog, store: ContentStore): Promise<void> {
  const problems: string[] = [];
  await Promise.all(
    [...catalogBlobs(catalog)].map(async ([sha256, size]) => {
      try {
        const info = await stat(store.blobPath(sha256));
        if (info.size !== size) problems.push(`${sha256} has ${info.size} bytes, expected ${size}`);
      } catch {
        problems.push(`${sha256} is missing`);
      }
    }),
  );
  if (problems.length > 0) {
    problems.sort();
    throw new PatchbayError(
      ErrorCodes.BLOB_MISSING,
      `not publishing: ${problems.length} blob(s) named by the new catalog are not in the store: ${problems.slice(0, 5).join('; ')}`,
      { problems },
    );
  }
}
