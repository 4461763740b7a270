// Vendor feed signatures (CONTRACT §5): with upstream.publicKey set, feed.json is
// trusted only when feed.json.sig is an Ed25519 signature of exactly its bytes.
import type { KeyObject } from 'node:crypto';
import { ErrorCodes, PatchbayError, parsePublicKey, verifyDetached } from '@patchbay/core';

/** feed.json.sig beside feed.json (same directory, same query-less URL plus ".sig"). */
export function feedSignatureUrl(feedUrl: string): string {
  const url = new URL(feedUrl);
  url.pathname += '.sig';
  return url.href;
}

/** upstream.publicKey parsed; a key that is not Ed25519 is PB_ERR_CONFIG (exit 2). */
export function parseUpstreamKey(publicKey: string): KeyObject {
  try {
    return parsePublicKey(publicKey, 'upstream.publicKey');
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `upstream.publicKey: ${(err as Error).message}`,
      { key: 'upstream.publicKey' },
      { cause: err },
    );
  }
}

/**
 * Throws PB_ERR_SIGNATURE when `signature` is missing (undefined) or is not a valid
 * signature of `feedBytes` by `key`; the message says which, and names the URL.
 */
export function verifyFeedSignature(
  feedBytes: Buffer,
  signature: Buffer | undefined,
  key: KeyObject,
  feedUrl: string,
): void {
  const sigUrl = feedSignatureUrl(feedUrl);
  if (signature === undefined) {
    throw new PatchbayError(
      ErrorCodes.SIGNATURE,
      `feed signature ${sigUrl} is missing (upstream.publicKey is set, so an unsigned feed is refused) [${ErrorCodes.SIGNATURE}]`,
      { url: sigUrl, reason: 'missing' },
    );
  }
  if (!verifyDetached(feedBytes, signature.toString('utf8'), key)) {
    throw new PatchbayError(
      ErrorCodes.SIGNATURE,
      `feed signature ${sigUrl} does not verify for the fetched feed.json with upstream.publicKey [${ErrorCodes.SIGNATURE}]`,
      { url: sigUrl, reason: 'invalid' },
    );
  }
}
