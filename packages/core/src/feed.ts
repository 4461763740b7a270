// STUB — implemented by the core-schema helper. Signatures are the contract.
import type { Catalog, Feed } from './types.js';

/** Absolute path of docs/feed.schema.json, the JSON Schema the code validates with. */
export const FEED_SCHEMA_PATH: string = '';

/**
 * Parse and validate feed.json bytes. Throws PatchbayError:
 * PB_ERR_FEED_NOT_JSON, PB_ERR_FEED_SCHEMA (message names the JSON path and the rule),
 * PB_ERR_FEED_INVALID (duplicate patch id, duplicate file name in a patch, unsafe file name…).
 * Unknown fields are ignored (kept in the object), never fatal.
 */
export function parseFeed(_bytes: Buffer | string, _source = 'feed.json'): Feed {
  throw new Error('not implemented');
}

/** The same for a mirror catalog (format patchbay-catalog/1, file urls /v1/blobs/sha256/<hex>). */
export function parseCatalog(_bytes: Buffer | string, _source = 'catalog'): Catalog {
  throw new Error('not implemented');
}
