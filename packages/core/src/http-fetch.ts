// Fetching feeds and blobs, layered as undici layers its dispatchers:
//   request.ts     one GET (http/https via undici, file: emulating HTTP)
//   dispatcher.ts  proxy, CA, redirects (createDispatcher; with a checkUrl, http-request.ts
//                  follows them and checks every hop)
//   retry.ts       backoff + jitter + Retry-After around an attempt
//   resume-state.ts partial + validator sidecar, Range/If-Range
// This file composes them into the two operations the rest of patchbay uses.
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import type { ContentStore } from './content-store.js';
import { ErrorCodes, PatchbayError, isPatchbayError } from './errors.js';
import { diskFullError, isDiskFullError } from './free-space.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './private-files.js';
import { announcedLengthError, contentRangeStart, openUrl, statusError } from './request.js';
import type { UrlCheck, UrlRequest, UrlResponse } from './url-request.js';
import { discardPartial, loadResumePoint, saveResumeState } from './resume-state.js';
import type { ResumePoint } from './resume-state.js';
import {
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_RETRY_CAP_MS,
  isRetryableStatus,
  withRetry,
} from './retry.js';
import type { RetryPolicy } from './retry.js';

export { createDispatcher } from './dispatcher.js';
export type { DispatcherOptions } from './dispatcher.js';

/** Default cap for fetchConditional bodies (feed.json, catalogs). */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Bytes a download gathers before it writes them (one writev instead of one write per chunk). */
const WRITE_BATCH_BYTES = 1 << 20;
/** Default stall timeout: no headers or body bytes for this long aborts the attempt. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export interface RetryOptions {
  dispatcher?: Dispatcher;
  /**
   * asked before every URL is requested, each redirect hop included (see UrlCheck); a refusal
   * (a PatchbayError other than HTTP_STATUS/NETWORK) is final, not retried
   */
  checkUrl?: UrlCheck;
  /** attempts after the first on 5xx and connection errors (default 4) */
  retries?: number;
  /** first backoff delay, doubled each time, with jitter (default 250 ms) */
  retryBaseMs?: number;
  /** longest single delay, Retry-After included (default 10 s) */
  retryCapMs?: number;
  /** abort when no bytes arrive for this long (default 30 s) */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** called before each retry (for logs) */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; error: Error }) => void;
}

export type ConditionalResult =
  | { notModified: true; url: string }
  | { notModified: false; url: string; body: Buffer; etag?: string; lastModified?: string };

/**
 * GET a small document (feed.json, a catalog) with If-None-Match / If-Modified-Since.
 * file: URLs work (Last-Modified from mtime, ETag W/"size-mtimeMs"). Bodies over maxBytes
 * (default 64 MiB, counted while streaming) are cut off with PB_ERR_SIZE_MISMATCH.
 * 4xx is not retried: PB_ERR_HTTP_STATUS. Connection errors after retries: PB_ERR_NETWORK.
 */
export async function fetchConditional(
  url: string,
  validators: { etag?: string; lastModified?: string },
  opts: RetryOptions & { maxBytes?: number } = {},
): Promise<ConditionalResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const headers: Record<string, string> = { ...opts.headers };
  if (validators.etag) headers['if-none-match'] = validators.etag;
  if (validators.lastModified) headers['if-modified-since'] = validators.lastModified;
  return withRetry(url, retryPolicy(opts), async () => {
    const res = await openUrl(url, requestOptions(opts, headers));
    if (res.status === 304) {
      await res.discard();
      return { notModified: true, url };
    }
    if (res.status < 200 || res.status > 299 || res.status === 206) {
      await res.discard();
      throw statusError(url, res);
    }
    const body = await readCapped(res, url, maxBytes);
    return { notModified: false, url, body, etag: res.etag, lastModified: res.lastModified };
  });
}

export interface BlobDownload {
  url: string;
  sha256: string;
  size: number;
  store: ContentStore;
  onProgress?: (received: number, total: number) => void;
}

export interface BlobDownloadResult {
  path: string;
  /** bytes that crossed the network (or were read from file:) in this call */
  bytesFetched: number;
  resumed: boolean;
  alreadyPresent: boolean;
}

/**
 * Download into the store, hashing and counting in one streaming pass into a temp
 * file; rename into place only when size and SHA-256 match. A partial file is kept
 * and resumed with Range + If-Range on the next attempt/call. More bytes than `size`
 * are cut off (PB_ERR_SIZE_MISMATCH). file: URLs behave the same.
 * Size and digest mismatches are final (the bytes were complete and wrong): not retried,
 * partial deleted. Network errors, stalls and 5xx are retried, resuming the partial.
 * An abort (PB_ERR_ABORTED) keeps the partial for a later call. ENOSPC/EDQUOT is final:
 * partial and sidecar removed, PB_ERR_DISK_FULL naming the file.
 */
export async function downloadBlob(job: BlobDownload, opts: RetryOptions = {}): Promise<BlobDownloadResult> {
  const blobPath = job.store.blobPath(job.sha256);
  if (!Number.isSafeInteger(job.size) || job.size < 0) {
    throw new RangeError(`size of ${job.url} must be a non-negative integer, got ${job.size}`);
  }
  if (await job.store.has(job.sha256)) {
    return { path: blobPath, bytesFetched: 0, resumed: false, alreadyPresent: true };
  }
  return oneAtATime(`${job.store.root}\0${job.sha256}`, async () => {
    // Another call may have stored it while this one waited its turn.
    if (await job.store.has(job.sha256)) {
      return { path: blobPath, bytesFetched: 0, resumed: false, alreadyPresent: true };
    }
    const tally: Tally = { bytesFetched: 0, resumed: false };
    try {
      await ensurePrivateDir(job.store.tmpDir);
      const path = await withRetry(job.url, retryPolicy(opts), () => downloadAttempt(job, opts, tally));
      return { path, bytesFetched: tally.bytesFetched, resumed: tally.resumed, alreadyPresent: false };
    } catch (err) {
      if (isPatchbayError(err) || !isDiskFullError(err)) throw err;
      throw await diskFull(job, err);
    }
  });
}

/**
 * ENOSPC/EDQUOT while writing a blob: not retried (the disk stays full), and the partial goes,
 * since on a full disk the partial is what filled it. PB_ERR_DISK_FULL names the file.
 */
async function diskFull(job: BlobDownload, err: unknown): Promise<PatchbayError> {
  const partial = job.store.partialPath(job.sha256);
  await discardPartial(job.store, job.sha256).catch(() => undefined);
  const what = `${job.url} (sha256 ${job.sha256}, ${job.size} bytes)`;
  const error = diskFullError(partial, what, err, 'the partial file was removed');
  error.context.url = job.url;
  error.context.sha256 = job.sha256;
  return error;
}

/**
 * Downloads of one blob into one store run one at a time in this process: two patches that
 * share a file must not write the same partial at once. (Across processes, each program
 * holds the lock on its data directory.)
 */
const downloadsInFlight = new Map<string, Promise<unknown>>();

async function oneAtATime<T>(key: string, run: () => Promise<T>): Promise<T> {
  for (let current = downloadsInFlight.get(key); current; current = downloadsInFlight.get(key)) {
    await current.catch(() => undefined);
  }
  const mine = run();
  downloadsInFlight.set(key, mine);
  try {
    return await mine;
  } finally {
    if (downloadsInFlight.get(key) === mine) downloadsInFlight.delete(key);
  }
}

/** What one downloadBlob call did across its attempts. */
interface Tally {
  bytesFetched: number;
  resumed: boolean;
}

async function downloadAttempt(job: BlobDownload, opts: RetryOptions, tally: Tally): Promise<string> {
  const { store, url, sha256: hex } = job;
  try {
    let point = await loadResumePoint(store, job);
    if (point.offset > 0 && point.offset === job.size) {
      // Complete on disk already (a crash between the last byte and the rename).
      if (point.hash.copy().digest('hex') === hex) {
        tally.resumed = true;
        return await commitPartial(job);
      }
      await discardPartial(store, hex);
      point = freshPoint();
    }
    const opened = await openFromPoint(job, opts, point);
    point = opened.point;
    const res = opened.res;
    if (res.status !== 200 && res.status !== 206) {
      await res.discard();
      // A 4xx means this URL will not give us these bytes: the partial is no longer useful.
      if (!isRetryableStatus(res.status)) await discardPartial(store, hex);
      throw statusError(url, res);
    }
    const lengthError = announcedLengthError(url, res, job.size - point.offset);
    if (lengthError) {
      await res.discard();
      throw lengthError;
    }
    if (point.offset === 0) {
      await saveResumeState(store, {
        url,
        etag: res.etag,
        lastModified: res.lastModified,
        size: job.size,
        sha256: hex,
      });
    } else {
      tally.resumed = true;
    }
    await appendBody(job, res, point, tally);
    return await commitPartial(job);
  } catch (err) {
    if (isPatchbayError(err, ErrorCodes.SIZE_MISMATCH) || isPatchbayError(err, ErrorCodes.DIGEST_MISMATCH)) {
      await discardPartial(store, hex);
    }
    throw err;
  }
}

/**
 * Ask for the rest of a partial (Range + If-Range). 206 at the right offset continues it;
 * 200 means the file changed or ranges are ignored, so that body restarts from byte 0;
 * 416 or a 206 at another offset discards the partial and asks again for everything.
 */
async function openFromPoint(
  job: BlobDownload,
  opts: RetryOptions,
  point: ResumePoint,
): Promise<{ res: UrlResponse; point: ResumePoint }> {
  if (point.offset > 0 && point.ifRange !== undefined) {
    const headers = { ...opts.headers, range: `bytes=${point.offset}-`, 'if-range': point.ifRange };
    const res = await openUrl(job.url, requestOptions(opts, headers));
    if (res.status === 206 && contentRangeStart(res.contentRange) === point.offset) return { res, point };
    if (res.status === 200) return { res, point: freshPoint() };
    if (res.status !== 206 && res.status !== 416) return { res, point };
    await res.discard();
    await discardPartial(job.store, job.sha256);
  }
  const res = await openUrl(job.url, requestOptions(opts, { ...opts.headers }));
  return { res, point: point.offset === 0 ? point : freshPoint() };
}

/** Stream the body onto the partial, hashing and counting; cut off past the expected size. */
async function appendBody(
  job: BlobDownload,
  res: UrlResponse,
  point: ResumePoint,
  tally: Tally,
): Promise<void> {
  const partial = job.store.partialPath(job.sha256);
  // 'w' truncates whatever a restart leaves behind; 'a' continues the verified prefix.
  const handle = await open(partial, point.offset > 0 ? 'a' : 'w', PRIVATE_FILE_MODE);
  let received = point.offset;
  let complete = false;
  // Network chunks are 16-64 KiB; one write per chunk was a thread-pool round trip each.
  // Gathered to WRITE_BATCH_BYTES and written with writev, the bytes are the same.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const chunks = pending;
    pending = [];
    pendingBytes = 0;
    await handle.writev(chunks);
  };
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      tally.bytesFetched += chunk.length;
      received += chunk.length;
      if (received > job.size) {
        pending = [];
        throw new PatchbayError(
          ErrorCodes.SIZE_MISMATCH,
          `${job.url} sent more than the expected ${job.size} bytes (${received} so far); cut off`,
          { url: job.url, expected: job.size, received },
        );
      }
      point.hash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
      job.onProgress?.(received, job.size);
    }
    await flush();
    complete = true;
  } finally {
    // A failed attempt leaves a partial worth resuming: every byte that arrived goes to disk
    // and is made durable (commit fsyncs the complete one). A resume hashes the partial again.
    if (!complete) {
      await flush().catch(() => undefined);
      await handle.sync().catch(() => undefined);
    }
    await handle.close();
  }
  if (received !== job.size) {
    throw new PatchbayError(
      ErrorCodes.SIZE_MISMATCH,
      `${job.url} is ${received} bytes, expected ${job.size}`,
      { url: job.url, expected: job.size, received },
    );
  }
  const actual = point.hash.digest('hex');
  if (actual !== job.sha256) {
    throw new PatchbayError(
      ErrorCodes.DIGEST_MISMATCH,
      `${job.url} has SHA-256 ${actual}, expected ${job.sha256}`,
      { url: job.url, expected: job.sha256, actual },
    );
  }
}

async function commitPartial(job: BlobDownload): Promise<string> {
  const path = await job.store.commit(job.store.partialPath(job.sha256), job.sha256);
  await rm(job.store.partialStatePath(job.sha256), { force: true });
  return path;
}

function freshPoint(): ResumePoint {
  return { offset: 0, hash: createHash('sha256') };
}

async function readCapped(res: UrlResponse, url: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > maxBytes) {
      throw new PatchbayError(
        ErrorCodes.SIZE_MISMATCH,
        `${url} is larger than the ${maxBytes}-byte limit; cut off`,
        { url, maxBytes, received },
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, received);
}

function retryPolicy(opts: RetryOptions): RetryPolicy {
  return {
    retries: opts.retries ?? DEFAULT_RETRIES,
    baseMs: opts.retryBaseMs ?? DEFAULT_RETRY_BASE_MS,
    capMs: opts.retryCapMs ?? DEFAULT_RETRY_CAP_MS,
    signal: opts.signal,
    onRetry: opts.onRetry,
  };
}

function requestOptions(opts: RetryOptions, headers: Record<string, string>): UrlRequest {
  return {
    headers,
    checkUrl: opts.checkUrl,
    dispatcher: opts.dispatcher,
    signal: opts.signal,
    stallTimeoutMs: opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
  };
}
