// The publisher's own settings for one repository: `<repo>/publisher.json`, beside (never
// inside) `metadata/` and `targets/`, so a staging server that mirrors those two never sees
// it. It keeps what later commands must repeat: each role's expiry period, and the keys that
// sign new delegated roles when they are not the targets keys (`init --delegation-key`).
import { join } from 'node:path';
import { ErrorCodes, PatchbayError, readJsonFile, writeFileAtomic } from '@patchbay/core';
import { TOP_LEVEL_ROLES, type TopLevelRole } from '@patchbay/core/tuf';

/** How long each role's metadata stays valid, in days; delegated roles use `targets`. */
export type Expiries = Record<TopLevelRole, number>;

export const DEFAULT_EXPIRIES: Expiries = { root: 365, targets: 90, snapshot: 14, timestamp: 2 };

export interface PublisherSettings {
  expires: Expiries;
  /** keys (TUF key objects by key id) and threshold for new delegated roles; absent: the root's targets keys */
  delegation?: { keys: Record<string, unknown>; keyids: string[]; threshold: number };
}

export const SETTINGS_FILE = 'publisher.json';

/** The settings of a repository (defaults for what the file does not say). */
export async function readSettings(repo: string): Promise<PublisherSettings> {
  const path = join(repo, SETTINGS_FILE);
  let stored: Partial<PublisherSettings> | undefined;
  try {
    stored = await readJsonFile<Partial<PublisherSettings>>(path);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `${path}: ${(err as Error).message}`,
      { file: path },
      { cause: err },
    );
  }
  const expires = { ...DEFAULT_EXPIRIES, ...stored?.expires };
  for (const role of TOP_LEVEL_ROLES) {
    if (!Number.isFinite(expires[role]) || expires[role] <= 0) {
      throw new PatchbayError(
        ErrorCodes.CONFIG,
        `${path}: expires.${role} must be a positive number of days`,
        {
          file: path,
        },
      );
    }
  }
  return stored?.delegation ? { expires, delegation: stored.delegation } : { expires };
}

export async function writeSettings(repo: string, settings: PublisherSettings): Promise<void> {
  await writeFileAtomic(join(repo, SETTINGS_FILE), `${JSON.stringify(settings, null, 2)}\n`);
}

/**
 * `root=365d,targets=90d,snapshot=14d,timestamp=2d` (any subset; units d, h or w) as days.
 * Throws PB_ERR_USAGE naming the bad part.
 */
export function parseExpiries(spec: string, base: Expiries = DEFAULT_EXPIRIES): Expiries {
  const result = { ...base };
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const match = /^([a-z]+)=(\d+(?:\.\d+)?)([dhw])$/.exec(part);
    const role = match?.[1] as TopLevelRole | undefined;
    if (!match || !role || !TOP_LEVEL_ROLES.includes(role) || Number(match[2]) <= 0) {
      throw new PatchbayError(
        ErrorCodes.USAGE,
        `--expires: "${part}" is not ROLE=DURATION (ROLE one of ${TOP_LEVEL_ROLES.join(', ')}; DURATION like 90d, 36h or 2w)`,
        { part },
      );
    }
    const amount = Number(match[2]);
    result[role] = match[3] === 'h' ? amount / 24 : match[3] === 'w' ? amount * 7 : amount;
  }
  return result;
}
