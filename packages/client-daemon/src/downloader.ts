import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, PatchbayError, assertSafeFileName, downloadBlob, sha256File } from '@patchbay/core';
import type { ContentStore, FeedFile, FeedPatch, Logger } from '@patchbay/core';
import type { Dispatcher } from 'undici';
import { withFailover } from './failover.js';

export interface DownloaderOptions {
  servers: readonly string[];
  store: ContentStore;
  dispatcher?: Dispatcher;
  retries: number;
  stallTimeoutMs: number;
  logger: Logger;
  /** progress callback for long transfers (the CLI passes one only on a TTY) */
  onProgress?: (file: FeedFile, received: number, total: number) => void;
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
 * connection. Blobs are content-addressed, so any staging server may serve them:
 * the servers are tried in order. Already cached blobs need no network at all.
 */
export async function downloadPatchFiles(patch: FeedPatch, opts: DownloaderOptions): Promise<PatchDownload> {
  const files: Record<string, string> = {};
  let bytesFetched = 0;
  for (const file of patch.files) {
    assertSafeFileName(file.name, `patch ${patch.id} file name`);
    if (await opts.store.has(file.sha256)) {
      files[file.name] = opts.store.blobPath(file.sha256);
      continue;
    }
    const { value } = await withFailover(
      opts.servers,
      `download ${patch.id}/${file.name}`,
      (server) =>
        downloadBlob(
          {
            url: `${server}/v1/blobs/sha256/${file.sha256}`,
            sha256: file.sha256,
            size: file.size,
            store: opts.store,
            onProgress: opts.onProgress ? (r, t) => opts.onProgress?.(file, r, t) : undefined,
          },
          { dispatcher: opts.dispatcher, retries: opts.retries, stallTimeoutMs: opts.stallTimeoutMs },
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
  await mkdir(dir, { recursive: true });
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
