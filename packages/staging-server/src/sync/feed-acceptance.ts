// Rollback protection: a feed is accepted only when its sequence grows, or when
// it is byte for byte the feed accepted last time.
import { ErrorCodes, PatchbayError, type Feed } from '@patchbay/core';

export type SequenceVerdict = 'new' | 'same';

/**
 * 'new' for a feed to accept, 'same' for the already accepted one.
 * Throws PB_ERR_FEED_ROLLBACK for a lower sequence or an equal one with other bytes.
 */
export function checkFeedSequence(
  feed: Feed,
  bytes: Buffer,
  lastAccepted: number | undefined,
  storedBytes: Buffer | undefined,
): SequenceVerdict {
  if (lastAccepted === undefined || feed.sequence > lastAccepted) return 'new';
  if (feed.sequence < lastAccepted) {
    throw new PatchbayError(
      ErrorCodes.FEED_ROLLBACK,
      `feed sequence ${feed.sequence} is lower than the last accepted sequence ${lastAccepted}: refused as a rollback`,
      { sequence: feed.sequence, lastAccepted },
    );
  }
  if (storedBytes === undefined) return 'new'; // nothing to compare with (archive lost): take it again
  if (storedBytes.equals(bytes)) return 'same';
  throw new PatchbayError(
    ErrorCodes.FEED_ROLLBACK,
    `feed sequence ${feed.sequence} equals the last accepted sequence but its bytes differ: refused (a changed feed must have a higher sequence)`,
    { sequence: feed.sequence, lastAccepted },
  );
}
