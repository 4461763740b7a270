// All-or-nothing for the files of an import: every file the (filtered) feed names is
// checked (size and SHA-256) into a temp file first; only when all pass do they get a
// name in the store. A file the bundle leaves out must already be in the store.
import { rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage, ErrorCodes, PatchbayError, type ContentStore, type Feed } from '@patchbay/core';
import { checkFileUrl, originPolicy, type OriginPolicy, type UrlRefusal } from '../upstream/origin-policy.js';
import { checkUrlFully } from '../upstream/url-guard.js';
import { FEED_FILE } from './bundle-format.js';
import { checkVerified, copyVerified } from './verified-copy.js';

export interface WantedFile {
  sha256: string;
  size: number;
  /** the url of its first mention, relative to the feed directory */
  url: string;
  /** "PATCH/name" of every patch file with this digest */
  users: string[];
}

/** One entry per distinct digest; a digest given with two sizes is refused. */
export function wantedFiles(feed: Feed): WantedFile[] {
  const files = new Map<string, WantedFile>();
  for (const patch of feed.patches) {
    for (const file of patch.files) {
      const user = `${patch.id}/${file.name}`;
      const known = files.get(file.sha256);
      if (!known) {
        files.set(file.sha256, { sha256: file.sha256, size: file.size, url: file.url, users: [user] });
        continue;
      }
      if (known.size !== file.size) {
        throw new PatchbayError(
          ErrorCodes.IMPORT_REFUSED,
          `${user} gives size ${file.size} for SHA-256 ${file.sha256}, ${known.users[0]} gives ${known.size}; nothing was merged`,
          { sha256: file.sha256 },
        );
      }
      known.users.push(user);
    }
  }
  return [...files.values()];
}

/** The sync's origin policy for a bundle: its files only from inside its own directory. */
export function bundlePolicy(root: string): OriginPolicy {
  return originPolicy(pathToFileURL(join(resolve(root), FEED_FILE)).href, [], 'bundle directory');
}

function resolveInBundle(policy: OriginPolicy, url: string): URL | null {
  try {
    return new URL(url, policy.feedUrl);
  } catch {
    return null;
  }
}

/**
 * The local path a file URL names inside the feed directory, or null when it points
 * elsewhere (another scheme, or outside the directory as written). Symlinks are not
 * looked at here: `locateInBundle` is what an import reads by.
 */
export function bundlePath(root: string, url: string): string | null {
  const policy = bundlePolicy(root);
  const resolved = resolveInBundle(policy, url);
  if (resolved?.protocol !== 'file:' || checkFileUrl(resolved, policy) !== null) return null;
  return fileURLToPath(resolved);
}

/** Where an import finds a file url: a path inside the bundle, nowhere (not a local file), or refused. */
export type BundleLocation =
  { kind: 'inside'; path: string } | { kind: 'elsewhere' } | { kind: 'refused'; refusal: UrlRefusal };

/**
 * A file: url must stay inside the bundle directory, as written and once symlinks are
 * followed (a link in an in-place directory pointing out of it is refused, as tar bundles
 * refuse links outright). Other urls (the vendor's https:, say) are not read by an import.
 */
export async function locateInBundle(root: string, url: string): Promise<BundleLocation> {
  const policy = bundlePolicy(root);
  const resolved = resolveInBundle(policy, url);
  if (resolved?.protocol !== 'file:') return { kind: 'elsewhere' };
  const refusal = await checkUrlFully(resolved, policy);
  if (refusal !== null) return { kind: 'refused', refusal };
  return { kind: 'inside', path: fileURLToPath(resolved) };
}

/** PB_ERR_IMPORT_REFUSED when the bundle's own file `name` (feed.json, export.json…) leads out of it. */
export async function assertInsideBundle(root: string, name: string): Promise<void> {
  const located = await locateInBundle(root, name);
  if (located.kind !== 'refused') return;
  throw new PatchbayError(ErrorCodes.IMPORT_REFUSED, `nothing was merged: ${located.refusal.message}`, {
    path: join(root, name),
    reason: located.refusal.reason,
  });
}

export interface StagedBlob {
  sha256: string;
  /** a checked file, ready for ContentStore.commit */
  temp: string;
  size: number;
}

export interface StagedFiles {
  blobs: StagedBlob[];
  /** files not in the bundle that the store already holds */
  alreadyPresent: number;
  /** files in the bundle that the store already held (checked, not stored again) */
  duplicates: number;
}

export interface StageOptions {
  root: string;
  store: ContentStore;
  /** the bundle was unpacked onto the store's filesystem: check files in place, then rename */
  unpacked: boolean;
  /** names the base to import first, when files are missing */
  missingHint: string;
}

function describe(file: WantedFile): string {
  const more = file.users.length > 1 ? ` (+${file.users.length - 1} more)` : '';
  return `${file.users[0]}${more} [${file.url}]`;
}

/** Bytes the copy step will write into the store (for the free-space check). */
export async function bytesToCopy(
  files: readonly WantedFile[],
  root: string,
  store: ContentStore,
): Promise<number> {
  let bytes = 0;
  for (const file of files) {
    const located = await locateInBundle(root, file.url);
    if (located.kind !== 'inside') continue;
    if (!(await store.has(file.sha256)) && (await exists(located.path))) bytes += file.size;
  }
  return bytes;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** Check every file; throws PB_ERR_IMPORT_REFUSED (after removing its temp files) unless all pass. */
export async function stageFiles(files: readonly WantedFile[], opts: StageOptions): Promise<StagedFiles> {
  const { root, store } = opts;
  const staged: StagedFiles = { blobs: [], alreadyPresent: 0, duplicates: 0 };
  const created: string[] = [];
  const failures: string[] = [];
  const missing: string[] = [];
  const refused: string[] = [];
  for (const file of files) {
    const located = await locateInBundle(root, file.url);
    if (located.kind === 'refused') {
      // Nothing of it is read, whatever the store holds: a bundle naming such a path is refused whole.
      refused.push(`${describe(file)}: ${located.refusal.message}`);
      continue;
    }
    const path = located.kind === 'inside' ? located.path : null;
    const inStore = await store.has(file.sha256);
    if (path === null || !(await exists(path))) {
      if (inStore) staged.alreadyPresent += 1;
      else missing.push(path === null ? `${describe(file)}: not a file inside the bundle` : describe(file));
      continue;
    }
    // A copy in the bundle is checked even when the store has the blob: a bad bundle is refused whole.
    try {
      if (opts.unpacked) {
        await checkVerified(path, file, describe(file));
        if (inStore) staged.duplicates += 1;
        else staged.blobs.push({ sha256: file.sha256, temp: path, size: file.size });
      } else if (inStore) {
        await checkVerified(path, file, describe(file));
        staged.duplicates += 1;
      } else {
        const temp = store.newTempPath();
        created.push(temp);
        await copyVerified(path, temp, file, describe(file));
        staged.blobs.push({ sha256: file.sha256, temp, size: file.size });
      }
    } catch (err) {
      if ((err as PatchbayError).code === ErrorCodes.DISK_FULL) {
        await removeAll(created);
        throw err;
      }
      failures.push(errorMessage(err));
    }
  }
  if (failures.length > 0 || missing.length > 0 || refused.length > 0) {
    await removeAll(created);
    const parts: string[] = [];
    if (refused.length > 0)
      parts.push(
        `${refused.length} file(s) name a path outside the bundle: ${refused.slice(0, 5).join('; ')}`,
      );
    if (failures.length > 0)
      parts.push(`${failures.length} file(s) fail their check: ${failures.slice(0, 5).join('; ')}`);
    if (missing.length > 0) {
      parts.push(
        `${missing.length} file(s) are neither in the bundle nor in this mirror's store: ${missing.slice(0, 5).join('; ')}` +
          (opts.missingHint ? ` (${opts.missingHint})` : ''),
      );
    }
    throw new PatchbayError(ErrorCodes.IMPORT_REFUSED, `nothing was merged: ${parts.join('; ')}`, {
      failures,
      missing,
      refused,
    });
  }
  return staged;
}

async function removeAll(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true })));
}

/** Give the checked files their names in the store (each an fsynced rename). */
export async function commitStaged(staged: StagedFiles, store: ContentStore): Promise<void> {
  for (const blob of staged.blobs) {
    if (await store.has(blob.sha256)) {
      await rm(blob.temp, { force: true });
      continue;
    }
    await store.commit(blob.temp, blob.sha256);
  }
}
