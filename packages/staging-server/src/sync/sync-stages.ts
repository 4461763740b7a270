// Stages both sync pipelines run the same way: from a feed (sync-run.ts) and from a TUF
// repository (tuf/tuf-sync.ts). Each is written once here so the two cannot drift.
import type { Dispatcher } from 'undici';
import {
  assertFreeSpace,
  errorMessage,
  ErrorCodes,
  PatchbayError,
  redactCredentials,
  type BlobProgressListener,
  type ContentStore,
  type Logger,
  type RetryOptions,
  type ServerConfig,
} from '@patchbay/core';
import type { SyncReport } from '../mirror.js';
import type { OriginPolicy } from '../upstream/origin-policy.js';
import { urlGuard } from '../upstream/url-guard.js';
import { downloadBlobs, missingBlobs, type BlobJob, type DownloadOutcome } from './blob-downloads.js';

/** What the shared stages read of a sync's context (sync-run.ts SyncContext has it all). */
export interface SyncStageContext {
  config: ServerConfig;
  store: ContentStore;
  dispatcher?: Dispatcher;
  /** first retry delay (tests shorten it) */
  retryBaseMs?: number;
  /** the downloads' progress (the CLI's bar on a terminal) */
  progress?: BlobProgressListener;
}

/** PB_ERR_ABORTED naming the stage the sync stopped at. */
export function throwIfAborted(signal: AbortSignal, stage: string): void {
  if (signal.aborted) {
    throw new PatchbayError(ErrorCodes.ABORTED, `sync aborted ${stage}; nothing was published`, { stage });
  }
}

/**
 * How every request of a sync is made: each one, redirect hops included, checked against the
 * origin policy before it is made (docs/security.md), retried as upstream.* says, and logged.
 */
export function syncRetryOptions(
  ctx: SyncStageContext,
  policy: OriginPolicy,
  signal: AbortSignal,
  log: Logger,
): RetryOptions {
  const { upstream } = ctx.config;
  const retry: RetryOptions = {
    checkUrl: urlGuard(policy),
    retries: upstream.retries,
    stallTimeoutMs: upstream.timeoutSeconds * 1000,
    signal,
    onRetry: ({ url, attempt, delayMs, error }) =>
      log.warn({ url: redactCredentials(url), attempt, delayMs, err: errorMessage(error) }, 'retrying'),
  };
  if (ctx.dispatcher) retry.dispatcher = ctx.dispatcher;
  if (ctx.retryBaseMs !== undefined) retry.retryBaseMs = ctx.retryBaseMs;
  return retry;
}

/**
 * The download stage: the planned blobs the store does not hold yet, fetched after a free-space
 * check (fail before the first byte rather than fill the disk halfway; the published catalog
 * stays). Fills the report's filesFetched and bytesFetched.
 */
export async function downloadMissingBlobs(
  ctx: SyncStageContext,
  jobs: readonly BlobJob[],
  retry: RetryOptions,
  signal: AbortSignal,
  report: SyncReport,
  log: Logger,
): Promise<{ fetched: BlobJob[]; downloads: DownloadOutcome }> {
  const { config, store } = ctx;
  const fetched = await missingBlobs(jobs, store);
  const writing = await store.bytesToWrite(fetched);
  log.info(
    {
      files: fetched.length,
      bytes: fetched.reduce((sum, job) => sum + job.size, 0),
      bytesToWrite: writing,
      concurrency: config.upstream.concurrency,
    },
    'files to fetch',
  );
  if (fetched.length > 0) {
    await assertFreeSpace(
      store.root,
      writing,
      config.storage.freeSpaceMarginBytes,
      `the sync's ${fetched.length} file(s) to download`,
      'storage.freeSpaceMarginBytes',
    );
  }
  const downloads = await downloadBlobs(fetched, {
    store,
    concurrency: config.upstream.concurrency,
    retry,
    signal,
    logger: log,
    ...(ctx.progress ? { progress: ctx.progress } : {}),
  });
  report.filesFetched = downloads.filesFetched;
  report.bytesFetched = downloads.bytesFetched;
  return { fetched, downloads };
}
