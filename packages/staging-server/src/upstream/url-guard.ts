// The origin policy (origin-policy.ts) as core's per-request UrlCheck: asked before the first
// URL of every request and before each redirect hop, and, for file: URLs, where the path
// really leads (realpath: a symlink in the feed directory pointing out of it is refused).
import { realpath } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { UrlCheck } from '@patchbay/core';
import {
  checkFileUrl,
  checkRedirect,
  checkResolvedPath,
  refusalError,
  type OriginPolicy,
  type UrlRefusal,
} from './origin-policy.js';

/**
 * Null when the file: `url` (already passed by checkFileUrl) resolves inside the policy's
 * directory. A path that does not exist (yet) is let through: opening it finds nothing.
 */
export async function checkRealFile(url: URL, policy: OriginPolicy): Promise<UrlRefusal | null> {
  if (policy.feedDir === null) return checkFileUrl(url, policy);
  let realDir: string;
  let realPath: string;
  try {
    realDir = await realpath(policy.feedDir);
    realPath = await realpath(fileURLToPath(url));
  } catch {
    return null;
  }
  return checkResolvedPath(url.href, realPath, realDir, policy);
}

/** Every refusal of `url` under `policy`, the symlink check included. */
export async function checkUrlFully(url: URL, policy: OriginPolicy): Promise<UrlRefusal | null> {
  const refusal = checkFileUrl(url, policy);
  if (refusal !== null || url.protocol !== 'file:') return refusal;
  return checkRealFile(url, policy);
}

/** core's UrlCheck for `policy`: throws PB_ERR_URL_REFUSED; nothing is requested from a refused URL. */
export function urlGuard(policy: OriginPolicy): UrlCheck {
  return async (url, redirectedFrom) => {
    const refusal =
      redirectedFrom === undefined
        ? await checkUrlFully(url, policy)
        : checkRedirect(redirectedFrom, url, policy);
    if (refusal !== null) throw refusalError(refusal, policy);
  };
}
