// Freeze protection (CONTRACT §5 extension): every catalog expires signing.expiryDays
// after it was signed, and the mirror publishes a re-signed one before that happens.
import type { ServerConfig } from '@patchbay/core';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** `signing` may be absent in a config not made by loadServerConfig (tests): core's defaults then. */
type SigningConfig = { signing?: Partial<ServerConfig['signing']> };

function expiryMs(config: SigningConfig): number {
  return (config.signing?.expiryDays ?? 7) * DAY_MS;
}

/** expiresAt for a catalog signed at `now`. */
export function expiryFor(now: Date, config: SigningConfig): string {
  return new Date(now.getTime() + expiryMs(config)).toISOString();
}

/**
 * How long before expiry a re-signed catalog is published. Never more than half the
 * expiry period: otherwise a fresh catalog would be due at once, and re-signing would loop.
 */
function resignMarginMs(config: SigningConfig): number {
  return Math.min((config.signing?.resignBeforeHours ?? 24) * HOUR_MS, expiryMs(config) / 2);
}

/** When a catalog with this expiresAt should be re-signed (ms since epoch). A bad or missing expiresAt is due now. */
export function resignDueAt(expiresAt: string | undefined, config: SigningConfig): number {
  const expires = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
  if (Number.isNaN(expires)) return 0;
  return expires - resignMarginMs(config);
}

export function isResignDue(expiresAt: string | undefined, now: Date, config: SigningConfig): boolean {
  return now.getTime() >= resignDueAt(expiresAt, config);
}
