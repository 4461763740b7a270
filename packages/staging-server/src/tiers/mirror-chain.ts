// Tiered mirrors: every catalog a mirror publishes lists, in `mirrorChain`, the key
// fingerprints of the mirrors its content passed through (the vendor's side first, this
// mirror last). A vendor feed has none. A mirror that finds its own fingerprint in an
// upstream document's chain is being fed its own output back: a loop (A <- B <- A).
import { ErrorCodes, PatchbayError } from '@patchbay/core';

export const MIRROR_CHAIN_FIELD = 'mirrorChain';

/** The chain an upstream document carries (the schema has checked its shape); [] when none. */
export function chainOf(document: object): string[] {
  const chain = (document as { mirrorChain?: unknown }).mirrorChain;
  return Array.isArray(chain) ? chain.filter((fp): fp is string => typeof fp === 'string') : [];
}

/** The chain for this mirror's own publication: the upstream's, then this mirror. */
export function extendChain(upstreamChain: readonly string[], own: string): string[] {
  return [...upstreamChain, own];
}

/** `fp1 -> fp2 -> fp3`, as errors and logs show a chain. */
export function describeChain(chain: readonly string[]): string {
  return chain.length === 0 ? '(vendor feed)' : chain.join(' -> ');
}

/**
 * Throws PB_ERR_MIRROR_LOOP when `chain` (an upstream document's) already holds `own`,
 * the fingerprint of this mirror's key. The message names the chain and the source.
 */
export function assertNotInChain(chain: readonly string[], own: string, source: string): void {
  if (!chain.includes(own)) return;
  throw new PatchbayError(
    ErrorCodes.MIRROR_LOOP,
    `${source}: mirror loop: the upstream catalog already passed through this mirror (key ${own}); ` +
      `chain ${describeChain(chain)}; point upstream.url at a mirror that is not fed by this one [${ErrorCodes.MIRROR_LOOP}]`,
    { source, chain: [...chain], mirror: own },
  );
}
