// --chunk-size SIZE: bytes, or a number with a unit as coreutils' split reads it:
// K, M, G, T (and KiB, MiB…) are powers of 1024; KB, MB, GB, TB powers of 1000.
import { ErrorCodes, PatchbayError } from '@patchbay/core';

/** Smaller parts than this only make a pile of files; tar itself works in 512-byte blocks. */
export const MIN_CHUNK_BYTES = 64 * 1024;

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1024,
  KIB: 1024,
  KB: 1000,
  M: 1024 ** 2,
  MIB: 1024 ** 2,
  MB: 1000 ** 2,
  G: 1024 ** 3,
  GIB: 1024 ** 3,
  GB: 1000 ** 3,
  T: 1024 ** 4,
  TIB: 1024 ** 4,
  TB: 1000 ** 4,
};

/** Bytes for a size like `650M`, `4.7GB` or `1048576`; PB_ERR_USAGE naming the flag otherwise. */
export function parseSize(text: string, flag = '--chunk-size'): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toUpperCase()] : undefined;
  if (!match || unit === undefined) {
    throw new PatchbayError(
      ErrorCodes.USAGE,
      `${flag} must be a size such as 650M, 4G, 4.7GB or a number of bytes, got "${text}"`,
      { flag, value: text },
    );
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes < MIN_CHUNK_BYTES) {
    throw new PatchbayError(
      ErrorCodes.USAGE,
      `${flag} ${text} is ${bytes} bytes; it must be at least ${MIN_CHUNK_BYTES} (64K)`,
      { flag, value: text },
    );
  }
  return bytes;
}
