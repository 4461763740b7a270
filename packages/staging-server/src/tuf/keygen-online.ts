// `patchbay-server keygen` with trust v2: the mirror's catalog key as before, and the online key
// (TUF snapshot and timestamp) made when absent, its public key and key id printed so an admin
// can pass them to `patchbay-publish init --online-key FILE` or a root rotation.
import { formatKeygen, runKeygen, type KeygenOptions, type KeygenResult } from '../trust/keygen.js';
import { describeKey, mirrorKeyFile, readMirrorKey, type MirrorKeyConfig } from '../trust/mirror-key.js';
import {
  ensureOnlineKey,
  formatOnlineKey,
  onlineKeySummary,
  type OnlineKeyConfig,
  type OnlineKeySummary,
} from './online-key.js';

export interface KeygenWithOnlineKey extends KeygenResult {
  /** the online key (made now, or the one already there) */
  onlineKey: OnlineKeySummary;
  /** true when the mirror key already existed and only the online key was made */
  mirrorKeyKept?: boolean;
}

/**
 * The online key first (made when missing), then the mirror key as `runKeygen` does. A mirror
 * key that already exists is refused as before (PB_ERR_CONFIG), unless this run made the
 * online key: upgrading a server to trust v2 is `keygen` once, with no flag that could replace
 * the mirror key by accident.
 */
export async function runKeygenWithOnlineKey(
  config: MirrorKeyConfig & OnlineKeyConfig,
  opts: KeygenOptions = {},
): Promise<{ result: KeygenWithOnlineKey; onlineKeyCreated: boolean }> {
  const online = await ensureOnlineKey(config);
  const onlineKey = onlineKeySummary(online.key);
  if (online.created && !opts.force && !opts.rotate) {
    const keyFile = mirrorKeyFile(config);
    const existing = await readMirrorKey(keyFile);
    if (existing) {
      return {
        result: { keyFile, ...describeKey(existing), onlineKey, mirrorKeyKept: true },
        onlineKeyCreated: true,
      };
    }
  }
  const mirror = await runKeygen(config, opts);
  return { result: { ...mirror, onlineKey }, onlineKeyCreated: online.created };
}

export function formatKeygenWithOnlineKey(result: KeygenWithOnlineKey, onlineKeyCreated: boolean): string {
  const mirror = result.mirrorKeyKept
    ? `mirror signing key kept in ${result.keyFile}\n  public key:  ${result.publicKey}\n  fingerprint: ${result.fingerprint}\n`
    : formatKeygen(result);
  return mirror + formatOnlineKey(result.onlineKey, onlineKeyCreated);
}
