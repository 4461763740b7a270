// The catalog a command acts on, as the catalog source hands it over, and the freeze rules
// every command applies to it (an expired catalog is shown, never acted on).
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { Catalog } from '@patchbay/core';
import type { FailoverAttempt } from './failover.js';

export interface LoadedCatalog {
  catalog: Catalog;
  /** true when no server answered and this is the kept copy */
  offline: boolean;
  /** the server that answered (or that the kept copy came from) */
  server: string;
  /** when these bytes were fetched */
  fetchedAt: string;
  /** servers that failed before one answered, or all of them when offline */
  attempts: FailoverAttempt[];
  /** the catalog's expiresAt has passed: show it, but install and download nothing from it */
  expired: boolean;
  /** the trust root it verified against (root version and key) */
  keyFingerprint: string;
}

/** What reports say about the catalog in use (extension fields catalogSequence, catalogExpired). */
export interface CatalogState {
  sequence: number;
  expired: boolean;
  expiresAt?: string;
}

/** Fields check/status add to their JSON document for an expired catalog. */
export function expiryFields(loaded: LoadedCatalog): Record<string, unknown> {
  return loaded.expired ? { catalogExpired: true, expiresAt: loaded.catalog.expiresAt } : {};
}

/**
 * Freeze protection: an expired catalog may be shown, never installed or downloaded from.
 * PB_ERR_CATALOG_STALE naming when it expired.
 */
export function assertNotExpired(loaded: LoadedCatalog, action: string): void {
  if (!loaded.expired) return;
  throw new PatchbayError(
    ErrorCodes.CATALOG_STALE,
    `catalog ${loaded.catalog.sequence} from ${loaded.server} expired at ${loaded.catalog.expiresAt}: refusing to ${action} ` +
      '(the staging server has not published a fresh catalog; is it frozen or cut off from its feed?)',
    { reason: 'expired', sequence: loaded.catalog.sequence, expiresAt: loaded.catalog.expiresAt },
  );
}
