// STUB — implemented by the core-storage helper.
// Layers around one fetch (as undici does): retry with backoff, resume, proxy.
import type { Dispatcher } from 'undici';
import type { ContentStore } from './content-store.js';

export interface DispatcherOptions {
  /** http(s) proxy URL (undici ProxyAgent) */
  proxy?: string | null;
  /** PEM CA bundle for https (trust.ca, §5) */
  ca?: string | Buffer | null;
}

export function createDispatcher(_opts: DispatcherOptions = {}): Dispatcher {
  throw new Error('not implemented');
}

export interface RetryOptions {
  dispatcher?: Dispatcher;
  /** attempts after the first on 5xx and connection errors (default 4) */
  retries?: number;
  /** first backoff delay, doubled each time, with jitter (default 250 ms) */
  retryBaseMs?: number;
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
 * file: URLs work (Last-Modified from mtime). Bodies over maxBytes are cut off with an error.
 * 4xx is not retried: PB_ERR_HTTP_STATUS. Connection errors after retries: PB_ERR_NETWORK.
 */
export async function fetchConditional(
  _url: string,
  _validators: { etag?: string; lastModified?: string },
  _opts: RetryOptions & { maxBytes?: number } = {},
): Promise<ConditionalResult> {
  throw new Error('not implemented');
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
 */
export async function downloadBlob(_job: BlobDownload, _opts: RetryOptions = {}): Promise<BlobDownloadResult> {
  throw new Error('not implemented');
}
