// The shapes every URL requester speaks (request.ts's openUrl and the per-scheme
// file-url.ts and http-request.ts), kept apart so the schemes need not import request.ts,
// which imports them.
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/**
 * Asked before every URL a request reaches: the first (`redirectedFrom` undefined) and each
 * redirect target (`redirectedFrom` the URL that answered 3xx). Throw (a PatchbayError) to
 * refuse it: nothing is requested from a refused URL. With a check, redirects are followed
 * by the requester, hop by hop, instead of by the dispatcher.
 */
export type UrlCheck = (url: URL, redirectedFrom?: URL) => void | Promise<void>;

export interface UrlRequest {
  /** refuse URLs (and redirect hops) before they are requested */
  checkUrl?: UrlCheck;
  headers?: Record<string, string>;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
  /** give up when the headers, or the next body bytes, take longer than this */
  stallTimeoutMs?: number;
}

export interface UrlResponse {
  status: number;
  etag?: string;
  lastModified?: string;
  /** raw Content-Range header */
  contentRange?: string;
  /** raw Retry-After header */
  retryAfter?: string;
  /** Content-Length as announced (undefined when absent or unparsable) */
  contentLength?: number;
  body: Readable;
  /** Drop the body without reading it (frees the connection or file handle). */
  discard(): Promise<void>;
}
