// What a sync mirrors: the vendor's feed.json, or a parent staging server's signed
// /v1/catalog (tiered mirrors). Both become one Feed; a parent's catalog is checked for
// loops and for expiry before anything of it is trusted.
import { catalogAsFeed, ErrorCodes, parseUpstreamDocument, PatchbayError, type Feed } from '@patchbay/core';
import { assertNotInChain, chainOf } from './mirror-chain.js';

export interface UpstreamFeed {
  feed: Feed;
  /** a vendor feed, or a parent mirror's catalog */
  kind: 'feed' | 'catalog';
  /** the mirrors the document passed through (upstream first); [] for a vendor feed */
  chain: string[];
}

/**
 * Parse feed.json or a parent's catalog bytes. Throws the feed errors (not JSON, schema,
 * semantics), PB_ERR_MIRROR_LOOP when the chain holds `ownFingerprint`, and
 * PB_ERR_CATALOG_STALE for a parent catalog past its expiresAt: a child must not turn a
 * frozen parent into fresh signatures of its own.
 */
export function parseUpstreamFeed(
  bytes: Buffer,
  source: string,
  ownFingerprint: string,
  now: Date = new Date(),
): UpstreamFeed {
  const document = parseUpstreamDocument(bytes, source);
  if (document.format === 'patchbay-feed/1') {
    const chain = chainOf(document.feed);
    assertNotInChain(chain, ownFingerprint, source);
    return { feed: document.feed, kind: 'feed', chain };
  }
  const { catalog } = document;
  const chain = chainOf(catalog);
  assertNotInChain(chain, ownFingerprint, source);
  if (catalog.expiresAt !== undefined && Date.parse(catalog.expiresAt) <= now.getTime()) {
    throw new PatchbayError(
      ErrorCodes.CATALOG_STALE,
      `${source}: the parent mirror's catalog (sequence ${catalog.sequence}) expired at ${catalog.expiresAt}; ` +
        `is the parent still syncing? [${ErrorCodes.CATALOG_STALE}]`,
      { source, sequence: catalog.sequence, expiresAt: catalog.expiresAt },
    );
  }
  return { feed: catalogAsFeed(catalog), kind: 'catalog', chain };
}
