// Whether a catalog may be used at all (CONTRACT §5): its detached Ed25519 signature
// must verify against trust.mirrorKey, or the key pinned for its staging server at
// first contact (as SSH's known_hosts); a catalog older than one already accepted
// is a rollback. The pins and the accepted sequences live under <dataDir>/trust.
import type { KeyObject } from 'node:crypto';
import {
  ErrorCodes,
  PatchbayError,
  encodePublicKey,
  errorMessage,
  keyFingerprint,
  parsePublicKey,
  readJsonFile,
  rotationStatement,
  sha256Hex,
  verifyDetached,
  writeFileAtomic,
} from '@patchbay/core';
import type { Catalog, Logger } from '@patchbay/core';
import type { DataPaths } from './paths.js';

/** GET /v1/keys (the staging server's current key and endorsements of it by older keys). */
export interface KeysDocument {
  mirror: string;
  fingerprint?: string;
  rotation?: { key: string; endorsement: string }[];
}

/** One entry of trust/mirror-key.json. */
export interface PinnedKey {
  key: string;
  fingerprint: string;
  server: string;
  pinnedAt: string;
  /** set when the key replaced an older one by an endorsed rotation */
  rotatedFrom?: string;
}

interface PinFile {
  format: 'patchbay-client-pins/1';
  servers: Record<string, PinnedKey>;
}

/** The newest catalog accepted under one signing key (trust/accepted.json). */
export interface AcceptedCatalog {
  sequence: number;
  sha256: string;
  server: string;
  acceptedAt: string;
  /** the "catalog has no expiresAt" warning was given for this key */
  noExpiryWarned?: boolean;
}

interface AcceptedFile {
  format: 'patchbay-client-accepted/1';
  keys: Record<string, AcceptedCatalog>;
}

/** The key a catalog verified against. */
export interface TrustedKey {
  key: KeyObject;
  fingerprint: string;
  source: 'trust.mirrorKey' | 'pinned';
}

/**
 * What a vendor feed verified against (direct mode). `id` keys its rollback state:
 * the vendor key's fingerprint, or the feed's URL when it is used unsigned.
 */
export interface FeedTrust {
  id: string;
  fingerprint: string;
  source: 'trust.feedKey';
}

export interface CatalogTrustOptions {
  paths: DataPaths;
  /** trust.mirrorKey, parsed: applies to every server */
  mirrorKey?: KeyObject;
  /** trust.feedKey, parsed: the vendor's key for feeds used directly */
  feedKey?: KeyObject;
  logger: Logger;
  /** tells the person at the terminal (pins, rotations) */
  notice?: (text: string) => void;
}

export type SignatureFailure =
  'no-signature' | 'bad-signature' | 'key-changed' | 'not-pinned' | 'no-feed-key';

export function signatureRefusal(
  reason: SignatureFailure,
  message: string,
  context: Record<string, unknown> = {},
): PatchbayError {
  return new PatchbayError(ErrorCodes.SIGNATURE, message, { reason, ...context });
}

/** A trust.mirrorKey / trust.feedKey value (PEM or base64); unreadable is a config error (exit 2). */
export function parseMirrorKey(text: string, key = 'trust.mirrorKey'): KeyObject {
  try {
    return parsePublicKey(text, key);
  } catch (err) {
    throw new PatchbayError(ErrorCodes.CONFIG, errorMessage(err), { key }, { cause: err });
  }
}

function pinsPath(paths: DataPaths): string {
  return `${paths.trust}/mirror-key.json`;
}

function acceptedPath(paths: DataPaths): string {
  return `${paths.trust}/accepted.json`;
}

export class CatalogTrust {
  constructor(private readonly opts: CatalogTrustOptions) {}

  get mirrorKeyFingerprint(): string | undefined {
    return this.opts.mirrorKey ? keyFingerprint(this.opts.mirrorKey) : undefined;
  }

  get feedKeyFingerprint(): string | undefined {
    return this.opts.feedKey ? keyFingerprint(this.opts.feedKey) : undefined;
  }

  /**
   * A vendor feed used directly: its feed.json.sig must verify against trust.feedKey. There is
   * no unsigned direct mode: a feed's install and detect commands run as root, and nothing
   * but a signature by a key the host was configured with may decide them (CONTRACT §5).
   */
  verifyFeed(server: string, bytes: Buffer, signature: string | undefined): FeedTrust {
    const { feedKey } = this.opts;
    if (!feedKey) {
      throw signatureRefusal(
        'no-feed-key',
        `${server} is a vendor feed (direct mode) and trust.feedKey is not set: refusing its unsigned ` +
          "commands (set trust.feedKey to the vendor's public key, or use a staging server)",
        { server },
      );
    }
    const fingerprint = keyFingerprint(feedKey);
    const what = `feed from ${server}`;
    if (!signature || signature.trim() === '') {
      throw signatureRefusal(
        'no-signature',
        `${what} has no feed.json.sig and trust.feedKey is set; refusing it`,
        { server, fingerprint },
      );
    }
    if (!verifyDetached(bytes, signature.trim(), feedKey)) {
      throw signatureRefusal(
        'bad-signature',
        `${what}: feed.json.sig does not verify against trust.feedKey ${fingerprint}; refusing it`,
        { server, fingerprint },
      );
    }
    return { id: `feed:${fingerprint}`, fingerprint, source: 'trust.feedKey' };
  }

  async pins(): Promise<Record<string, PinnedKey>> {
    const file = await readJsonFile<PinFile>(pinsPath(this.opts.paths));
    return file?.servers ?? {};
  }

  async accepted(): Promise<Record<string, AcceptedCatalog>> {
    const file = await readJsonFile<AcceptedFile>(acceptedPath(this.opts.paths));
    return file?.keys ?? {};
  }

  /**
   * Verify `bytes` against `signature` from `server`. Unknown servers are pinned at first
   * contact (unless `readOnly`); on a mismatch /v1/keys is asked whether the key rotated
   * with an endorsement by the pinned key. Throws PB_ERR_SIGNATURE (context.reason) otherwise.
   */
  async verify(
    server: string,
    bytes: Buffer,
    signature: string | undefined,
    fetchKeys: (() => Promise<KeysDocument>) | undefined,
    readOnly = false,
  ): Promise<TrustedKey> {
    const what = `catalog from ${server}`;
    if (!signature || signature.trim() === '') {
      throw signatureRefusal(
        'no-signature',
        `${what} has no signature (${server}/v1/catalog.sig); refusing it`,
        {
          server,
        },
      );
    }
    const { mirrorKey } = this.opts;
    if (mirrorKey) {
      const fingerprint = keyFingerprint(mirrorKey);
      if (!verifyDetached(bytes, signature, mirrorKey)) {
        throw signatureRefusal(
          'bad-signature',
          `${what}: signature does not verify against trust.mirrorKey ${fingerprint}; refusing it`,
          { server, fingerprint },
        );
      }
      return { key: mirrorKey, fingerprint, source: 'trust.mirrorKey' };
    }
    const pinned = (await this.pins())[server];
    if (!pinned) return this.firstContact(server, bytes, signature, fetchKeys, readOnly);
    const pinnedKey = parsePublicKey(pinned.key, `pinned key of ${server}`);
    if (verifyDetached(bytes, signature, pinnedKey)) {
      return { key: pinnedKey, fingerprint: pinned.fingerprint, source: 'pinned' };
    }
    const keys = fetchKeys ? await fetchKeys().catch(() => undefined) : undefined;
    const presented = keys ? tryParseKey(keys.mirror) : undefined;
    if (!presented || keyFingerprint(presented) === pinned.fingerprint) {
      throw signatureRefusal(
        'bad-signature',
        `${what}: signature does not verify against the pinned key ${pinned.fingerprint}; refusing it`,
        { server, fingerprint: pinned.fingerprint },
      );
    }
    const newFingerprint = keyFingerprint(presented);
    if (!endorsedBy(keys!, presented, pinnedKey, pinned.fingerprint)) {
      throw signatureRefusal(
        'key-changed',
        `the staging server's key changed from ${pinned.fingerprint} to ${newFingerprint}; refusing its catalog ` +
          `(no rotation endorsement by the pinned key; if the change is intended, remove ${server} from ` +
          `${pinsPath(this.opts.paths)} or set trust.mirrorKey)`,
        { server, pinned: pinned.fingerprint, presented: newFingerprint },
      );
    }
    if (!verifyDetached(bytes, signature, presented)) {
      throw signatureRefusal(
        'bad-signature',
        `${what}: signature does not verify against the rotated key ${newFingerprint}; refusing it`,
        { server, fingerprint: newFingerprint },
      );
    }
    if (!readOnly) {
      await this.pin(server, presented, pinned.fingerprint);
      await this.carrySequence(pinned.fingerprint, newFingerprint);
      this.tell(
        { server, from: pinned.fingerprint, to: newFingerprint },
        `the staging server ${server} rotated its key from ${pinned.fingerprint} to ${newFingerprint} ` +
          `(endorsed by the pinned key); re-pinned`,
      );
    }
    return { key: presented, fingerprint: newFingerprint, source: 'pinned' };
  }

  /**
   * Rollback protection: refuse a catalog older than the newest accepted under this key,
   * or the same sequence with other bytes.
   */
  async assertNotRolledBack(
    fingerprint: string,
    catalog: Catalog,
    bytes: Buffer,
    what: string,
  ): Promise<void> {
    const last = (await this.accepted())[fingerprint];
    if (!last) return;
    if (catalog.sequence < last.sequence) {
      throw new PatchbayError(
        ErrorCodes.CATALOG_STALE,
        `${what}: catalog sequence ${catalog.sequence} is older than ${last.sequence}, already accepted: refusing (rollback)`,
        { reason: 'rollback', sequence: catalog.sequence, accepted: last.sequence },
      );
    }
    if (catalog.sequence === last.sequence && sha256Hex(bytes) !== last.sha256) {
      throw new PatchbayError(
        ErrorCodes.CATALOG_STALE,
        `${what}: catalog sequence ${catalog.sequence} differs from the sequence-${last.sequence} catalog already accepted: refusing`,
        { reason: 'rollback', sequence: catalog.sequence, accepted: last.sequence },
      );
    }
  }

  /** Remember the newest accepted catalog under this key. Returns true the first time a catalog without expiresAt is seen under it. */
  async recordAccepted(
    fingerprint: string,
    catalog: Catalog,
    bytes: Buffer,
    server: string,
  ): Promise<boolean> {
    const keys = await this.accepted();
    const prev = keys[fingerprint];
    const warnNoExpiry = catalog.expiresAt === undefined && !prev?.noExpiryWarned;
    const next: AcceptedCatalog = {
      sequence: catalog.sequence,
      sha256: sha256Hex(bytes),
      server,
      acceptedAt: prev && prev.sequence === catalog.sequence ? prev.acceptedAt : new Date().toISOString(),
    };
    if (catalog.expiresAt === undefined && (prev?.noExpiryWarned || warnNoExpiry)) next.noExpiryWarned = true;
    const unchanged =
      prev &&
      prev.sequence === next.sequence &&
      prev.sha256 === next.sha256 &&
      prev.server === next.server &&
      prev.noExpiryWarned === next.noExpiryWarned;
    if (!unchanged) {
      keys[fingerprint] = next;
      await this.writeAccepted(keys);
    }
    return warnNoExpiry;
  }

  private async firstContact(
    server: string,
    bytes: Buffer,
    signature: string,
    fetchKeys: (() => Promise<KeysDocument>) | undefined,
    readOnly: boolean,
  ): Promise<TrustedKey> {
    if (!fetchKeys) {
      throw signatureRefusal(
        'not-pinned',
        `catalog from ${server}: no key is pinned for this server and trust.mirrorKey is not set; refusing it`,
        { server },
      );
    }
    let keys: KeysDocument;
    try {
      keys = await fetchKeys();
    } catch (err) {
      throw signatureRefusal(
        'not-pinned',
        `catalog from ${server}: cannot pin the server's key at first contact: ${errorMessage(err)}`,
        { server },
      );
    }
    const key = tryParseKey(keys.mirror);
    if (!key) {
      throw signatureRefusal(
        'not-pinned',
        `${server}/v1/keys does not name a readable Ed25519 key; refusing`,
        {
          server,
        },
      );
    }
    const fingerprint = keyFingerprint(key);
    if (!verifyDetached(bytes, signature, key)) {
      throw signatureRefusal(
        'bad-signature',
        `catalog from ${server}: signature does not verify against the server's own key ${fingerprint}; refusing it (not pinned)`,
        { server, fingerprint },
      );
    }
    if (!readOnly) {
      await this.pin(server, key);
      this.tell(
        { server, fingerprint },
        `first contact with ${server}: pinned its key ${fingerprint} (${pinsPath(this.opts.paths)})`,
      );
    }
    return { key, fingerprint, source: 'pinned' };
  }

  private async pin(server: string, key: KeyObject, rotatedFrom?: string): Promise<void> {
    const servers = await this.pins();
    const entry: PinnedKey = {
      key: encodePublicKey(key),
      fingerprint: keyFingerprint(key),
      server,
      pinnedAt: new Date().toISOString(),
    };
    if (rotatedFrom) entry.rotatedFrom = rotatedFrom;
    servers[server] = entry;
    const file: PinFile = { format: 'patchbay-client-pins/1', servers };
    await writeFileAtomic(pinsPath(this.opts.paths), JSON.stringify(file, null, 2) + '\n');
  }

  /** After a rotation the new key continues the old key's sequence: no rollback through a rotation. */
  private async carrySequence(from: string, to: string): Promise<void> {
    const keys = await this.accepted();
    const old = keys[from];
    if (!old || (keys[to] && keys[to].sequence >= old.sequence)) return;
    keys[to] = { ...old };
    await this.writeAccepted(keys);
  }

  private async writeAccepted(keys: Record<string, AcceptedCatalog>): Promise<void> {
    const file: AcceptedFile = { format: 'patchbay-client-accepted/1', keys };
    await writeFileAtomic(acceptedPath(this.opts.paths), JSON.stringify(file, null, 2) + '\n');
  }

  private tell(fields: Record<string, unknown>, text: string): void {
    this.opts.logger.info(fields, text);
    if (this.opts.notice) this.opts.notice(text);
    else this.opts.logger.warn(fields, text);
  }
}

function tryParseKey(text: unknown): KeyObject | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    return parsePublicKey(text, 'staging server key');
  } catch {
    return undefined;
  }
}

/** /v1/keys carries an endorsement of `presented` by the pinned key. */
function endorsedBy(
  keys: KeysDocument,
  presented: KeyObject,
  pinnedKey: KeyObject,
  pinnedFingerprint: string,
): boolean {
  if (!Array.isArray(keys.rotation)) return false;
  const statement = rotationStatement(encodePublicKey(presented));
  return keys.rotation.some((entry) => {
    const oldKey = tryParseKey(entry?.key);
    return (
      oldKey !== undefined &&
      keyFingerprint(oldKey) === pinnedFingerprint &&
      typeof entry.endorsement === 'string' &&
      verifyDetached(statement, entry.endorsement, pinnedKey)
    );
  });
}
