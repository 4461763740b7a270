// Trust v1 on the host (the staging server's mirror key, a vendor's patchbay-feed/1 read
// directly with trust.feedKey) is gone: a config still written for it is refused at start,
// naming the key and what to use instead, rather than half-working or failing on the network.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { ClientConfig } from '@patchbay/core';

const USE_TRUST_ROOT =
  "set trust.root to the publisher's TUF root metadata shipped with this deployment " +
  '(docs/security.md, "Trust v2")';
const USE_REPOSITORY =
  'have the organisation make it a TUF repository with "patchbay-publish import-feed" off the DMZ, ' +
  'and name that repository in server (a file: URL, or { "repository": URL }; docs/topologies.md)';

/** Throws PB_ERR_CONFIG (exit 2) for the first trust v1 setting found in `config`. */
export function assertNoTrustV1(config: ClientConfig, configFile: string | undefined): void {
  const where = configFile ? { file: configFile } : {};
  const refuse = (key: string, what: string, instead: string): never => {
    throw new PatchbayError(ErrorCodes.CONFIG, `${key}: ${what} was removed with trust v1; ${instead}`, {
      key,
      ...where,
    });
  };
  const { trust } = config;
  if (trust.legacyMirrorKey !== undefined) {
    refuse(
      'trust.legacyMirrorKey',
      "trusting the staging server's mirror key",
      `remove it and ${USE_TRUST_ROOT}`,
    );
  }
  if (trust.mirrorKey != null) {
    refuse('trust.mirrorKey', "the staging server's mirror key", `remove it and ${USE_TRUST_ROOT}`);
  }
  if (trust.feedKey != null) {
    refuse('trust.feedKey', 'reading a vendor feed directly (patchbay-feed/1)', USE_REPOSITORY);
  }
  for (const [i, entry] of config.server.entries()) {
    if (typeof entry === 'string' && isFeedUrl(entry)) {
      refuse(`server[${i}]`, `${entry} is a patchbay-feed/1 feed; reading one directly`, USE_REPOSITORY);
    }
  }
}

/**
 * A vendor feed's documented shapes: a URL naming `…/feed.json`, or a `file:` directory that
 * holds a feed.json and no TUF `metadata/` (read on this host's own disk, not from a server).
 */
function isFeedUrl(server: string): boolean {
  if (!URL.canParse(server)) return false;
  const url = new URL(server);
  if (url.pathname.endsWith('/feed.json')) return true;
  if (url.protocol !== 'file:') return false;
  const dir = fileURLToPath(url);
  return existsSync(`${dir}/feed.json`) && !existsSync(`${dir}/metadata`);
}
