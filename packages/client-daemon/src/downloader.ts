import { copyFile, link, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  ErrorCodes,
  PatchbayError,
  assertFreeSpace,
  assertSafeFileName,
  downloadBlob,
  ensurePrivateDir,
  sha256File,
} from '@patchbay/core';
import type { ContentStore, FeedFile, FeedPatch, Logger } from '@patchbay/core';
import type { Dispatcher } from 'undici';
import { withFailover } from './failover.js';
import type { Upstream } from './upstream.js';

export interface DownloaderOptions {
  /** tried in order for each file (the configured servers) */
  upstreams: readonly Upstream[];
  store: ContentStore;
  dispatcher?: Dispatcher;
  retries: number;
  stallTimeoutMs: number;
  logger: Logger;
  /** a patch's download fails early unless its missing bytes plus this many are free (cache.freeSpaceMarginBytes) */
  freeSpaceMarginBytes?: number;
  /** progress callback for long transfers (the CLI passes one only on a TTY) */
  onProgress?: (file: FeedFile, received: number, total: number) => void;
  /** aborts a transfer in flight (the daemon stopping); the partial is kept for resume */
  signal?: AbortSignal;
}

export interface PatchDownload {
  /** file name -> verified blob path */
  files: Record<string, string>;
  /** bytes that crossed the network for this patch */
  bytesFetched: number;
}

/**
 * Fetch a patch's files into the local content-addressed cache (<dataDir>/cache),
 * verified by size and SHA-256, resumed from a partial file after a dropped
 * connection. Each file is named by verified metadata (digest and target path), so any
 * upstream may serve it: they are tried in order. Already cached blobs need no network at all.
 */
export async function downloadPatchFiles(patch: FeedPatch, opts: DownloaderOptions): Promise<PatchDownload> {
  const files: Record<string, string> = {};
  let bytesFetched = 0;
  const missing: FeedFile[] = [];
  for (const file of patch.files) {
    assertSafeFileName(file.name, `patch ${patch.id} file name`);
    if (await opts.store.has(file.sha256)) files[file.name] = opts.store.blobPath(file.sha256);
    else missing.push(file);
  }
  if (missing.length > 0 && opts.freeSpaceMarginBytes !== undefined) {
    // Refuse before the first byte: a cache that fills halfway helps nobody.
    await assertFreeSpace(
      opts.store.root,
      await opts.store.bytesToWrite(missing),
      opts.freeSpaceMarginBytes,
      `patch ${patch.id}'s ${missing.length} file(s) to download`,
      'cache.freeSpaceMarginBytes',
    );
  }
  for (const file of missing) {
    const { value } = await withFailover(
      opts.upstreams,
      `download ${patch.id}/${file.name}`,
      (upstream) =>
        downloadBlob(
          {
            url: upstream.fileUrl(file),
            sha256: file.sha256,
            size: file.size,
            store: opts.store,
            onProgress: opts.onProgress ? (r, t) => opts.onProgress?.(file, r, t) : undefined,
          },
          {
            dispatcher: opts.dispatcher,
            retries: opts.retries,
            stallTimeoutMs: opts.stallTimeoutMs,
            ...(opts.signal ? { signal: opts.signal } : {}),
          },
        ),
      opts.logger,
    );
    files[file.name] = value.path;
    bytesFetched += value.bytesFetched;
    opts.logger.info(
      { patchId: patch.id, file: file.name, bytes: value.bytesFetched, resumed: value.resumed },
      'file downloaded and verified',
    );
  }
  return { files, bytesFetched };
}

/**
 * Give an installer the files under their feed names: <stagingRoot>/<patchId>/<name>,
 * a hard link to the cached blob (a copy across filesystems), re-hashed right before
 * use so nothing altered since the download is ever run.
 */
export async function stagePatchFiles(
  patch: FeedPatch,
  blobs: Record<string, string>,
  stagingRoot: string,
  store?: ContentStore,
): Promise<{ dir: string; files: Record<string, string> }> {
  const dir = path.join(stagingRoot, patch.id);
  await rm(dir, { recursive: true, force: true });
  await ensurePrivateDir(dir);
  const files: Record<string, string> = {};
  for (const file of patch.files) {
    const source = blobs[file.name];
    if (!source)
      throw new PatchbayError(ErrorCodes.PLACEHOLDER, `patch ${patch.id}: file ${file.name} not downloaded`);
    const target = path.join(dir, assertSafeFileName(file.name));
    try {
      await link(source, target);
    } catch {
      await copyFile(source, target);
    }
    const actual = await sha256File(target);
    if (actual !== file.sha256) {
      await rm(dir, { recursive: true, force: true });
      // the cached blob is the same inode (or the copy's source): drop it so it is fetched again
      await store?.remove(file.sha256);
      throw new PatchbayError(
        ErrorCodes.DIGEST_MISMATCH,
        `patch ${patch.id} file ${file.name}: cached bytes hash to ${actual}, expected ${file.sha256}`,
        { patchId: patch.id, file: file.name, expected: file.sha256, actual },
      );
    }
    files[file.name] = target;
  }
  return { dir, files };
}

export async function removeStaging(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
