// The one request function every fetch goes through: GET a URL with headers, get a status,
// validators and a body stream. file: URLs answer with the same HTTP semantics (conditional
// GET, Range/If-Range), so retry and resume above this layer do not care about the scheme.
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ErrorCodes, PatchbayError } from './errors.js';
import { requestFile } from './file-url.js';
import { requestHttp } from './http-request.js';
import { parseRetryAfter } from './retry.js';

export interface UrlRequest {
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
  body: Readable;
  /** Drop the body without reading it (frees the connection or file handle). */
  discard(): Promise<void>;
}

/** GET `url` (http:, https: or file:). Non-2xx statuses are returned, not thrown. */
export async function openUrl(url: string, req: UrlRequest = {}): Promise<UrlResponse> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.UNSUPPORTED_URL,
      `"${url}" is not a valid URL`,
      { url },
      { cause: err },
    );
  }
  switch (parsed.protocol) {
    case 'http:':
    case 'https:':
      return requestHttp(parsed, req);
    case 'file:':
      return requestFile(parsed, req);
    default:
      throw new PatchbayError(
        ErrorCodes.UNSUPPORTED_URL,
        `${url}: unsupported URL scheme ${parsed.protocol} (use http:, https: or file:)`,
        { url, scheme: parsed.protocol },
      );
  }
}

/** PB_ERR_HTTP_STATUS for an unexpected answer; carries Retry-After (ms) for the retry layer. */
export function statusError(url: string, res: Pick<UrlResponse, 'status' | 'retryAfter'>): PatchbayError {
  const context: Record<string, unknown> = { status: res.status, url };
  const retryAfterMs = parseRetryAfter(res.retryAfter);
  if (retryAfterMs !== undefined) context.retryAfterMs = retryAfterMs;
  return new PatchbayError(ErrorCodes.HTTP_STATUS, `GET ${url} answered HTTP ${res.status}`, context);
}

/** Start offset of a `Content-Range: bytes START-END/TOTAL` header; undefined when unparsable. */
export function contentRangeStart(header: string | undefined): number | undefined {
  const match = header === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim());
  return match ? Number(match[1]) : undefined;
}
