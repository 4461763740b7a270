// Diff the wanted files against the store and download only what is missing,
// through a bounded queue. One failing blob fails every patch that names it.
import PQueue from 'p-queue';
import {
  downloadBlob,
  errorMessage,
  ErrorCodes,
  isPatchbayError,
  PatchbayError,
  type BlobProgressListener,
  type ContentStore,
  type FeedPatch,
  type Logger,
  type RetryOptions,
  redactCredentials,
} from '@patchbay/core';
import { resolveFileUrl } from '../upstream/feed-location.js';
import { checkFileUrl, originPolicy, type OriginPolicy } from '../upstream/origin-policy.js';

/** One blob to have in the store, and the patches (and their file names) that need it. */
export interface BlobJob {
  sha256: string;
  size: number;
  url: string;
  users: { patchId: string; fileName: string }[];
}

export interface DownloadPlan {
  jobs: BlobJob[];
  /** patches that cannot be mirrored whatever we download (bad or refused URL, size conflict), with the reason */
  invalid: Map<string, string>;
}

/**
 * One job per distinct SHA-256; the first patch naming a digest decides its URL and size.
 * A URL the origin policy refuses (another origin, a file: url outside the feed directory…)
 * makes its patch invalid, whether or not the store already holds that digest: it is never
 * fetched, and never lets another patch's file be fetched from it.
 */
export function planBlobs(
  patches: readonly FeedPatch[],
  feedUrl: string,
  policy: OriginPolicy = originPolicy(feedUrl),
): DownloadPlan {
  const jobs = new Map<string, BlobJob>();
  const invalid = new Map<string, string>();
  for (const patch of patches) {
    for (const file of patch.files) {
      let url: string;
      try {
        url = resolveFileUrl(feedUrl, file.url);
      } catch (err) {
        invalid.set(patch.id, `file ${file.name}: ${errorMessage(err)}`);
        continue;
      }
      const refusal = checkFileUrl(url, policy);
      if (refusal !== null) {
        invalid.set(patch.id, `file ${file.name}: ${refusal.message}`);
        continue;
      }
      const existing = jobs.get(file.sha256);
      if (existing) {
        if (existing.size !== file.size) {
          invalid.set(
            patch.id,
            `file ${file.name}: size ${file.size} conflicts with ${existing.size} given for the same SHA-256 by ${existing.users[0]!.patchId}`,
          );
          continue;
        }
        existing.users.push({ patchId: patch.id, fileName: file.name });
        continue;
      }
      jobs.set(file.sha256, {
        sha256: file.sha256,
        size: file.size,
        url,
        users: [{ patchId: patch.id, fileName: file.name }],
      });
    }
  }
  return { jobs: [...jobs.values()], invalid };
}

/** Jobs whose blob is not in the store yet (a blob already stored was verified when it entered). */
export async function missingBlobs(jobs: readonly BlobJob[], store: ContentStore): Promise<BlobJob[]> {
  const present = await Promise.all(jobs.map((job) => store.has(job.sha256)));
  return jobs.filter((_, i) => !present[i]);
}

export interface DownloadOutcome {
  /** digest -> error message of blobs that could not be stored */
  failures: Map<string, string>;
  /** digest -> store path of blobs committed in this run */
  committed: Map<string, string>;
  filesFetched: number;
  bytesFetched: number;
}

export interface DownloadOptions {
  store: ContentStore;
  concurrency: number;
  retry: RetryOptions;
  signal: AbortSignal;
  logger: Logger;
  /** told the plan, each blob's bytes and each end (the CLI's progress bar on a terminal) */
  progress?: BlobProgressListener;
}

/**
 * Download the jobs with at most `concurrency` in flight. Per-blob failures are
 * collected, not thrown; an abort stops the queue and throws PB_ERR_ABORTED.
 */
export async function downloadBlobs(
  jobs: readonly BlobJob[],
  opts: DownloadOptions,
): Promise<DownloadOutcome> {
  const outcome: DownloadOutcome = {
    failures: new Map(),
    committed: new Map(),
    filesFetched: 0,
    bytesFetched: 0,
  };
  const queue = new PQueue({ concurrency: Math.max(1, opts.concurrency) });
  const progress = opts.progress;
  progress?.start(
    jobs.length,
    jobs.reduce((sum, job) => sum + job.size, 0),
  );

  const downloadOne = async (job: BlobJob): Promise<void> => {
    if (opts.signal.aborted) return;
    const log = opts.logger.child({ sha256: job.sha256, url: redactCredentials(job.url), size: job.size });
    try {
      const result = await downloadBlob(
        {
          url: job.url,
          sha256: job.sha256,
          size: job.size,
          store: opts.store,
          ...(progress ? { onProgress: (received: number) => progress.blob(job.sha256, received) } : {}),
        },
        { ...opts.retry, signal: opts.signal },
      );
      progress?.done(job.sha256, true);
      outcome.committed.set(job.sha256, result.path);
      outcome.bytesFetched += result.bytesFetched;
      if (!result.alreadyPresent) outcome.filesFetched += 1;
      log.debug({ bytes: result.bytesFetched, resumed: result.resumed }, 'blob stored');
    } catch (err) {
      progress?.done(job.sha256, false);
      if (opts.signal.aborted) return;
      const message = errorMessage(err);
      outcome.failures.set(job.sha256, message);
      log.warn({ code: isPatchbayError(err) ? err.code : undefined, err: message }, 'blob download failed');
    }
  };

  await Promise.all(jobs.map((job) => queue.add(() => downloadOne(job))));
  if (opts.signal.aborted) {
    throw new PatchbayError(ErrorCodes.ABORTED, 'sync aborted during downloads; nothing was published', {});
  }
  return outcome;
}

/** Per-patch errors for the failed blobs, naming the file. */
export function failedPatches(
  jobs: readonly BlobJob[],
  failures: ReadonlyMap<string, string>,
): Map<string, string> {
  const failed = new Map<string, string>();
  for (const job of jobs) {
    const error = failures.get(job.sha256);
    if (error === undefined) continue;
    for (const user of job.users) {
      if (!failed.has(user.patchId)) failed.set(user.patchId, `file ${user.fileName}: ${error}`);
    }
  }
  return failed;
}
