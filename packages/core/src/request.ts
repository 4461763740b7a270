// The one request function every fetch goes through: GET a URL with headers, get a status,
// validators and a body stream. file: URLs answer with the same HTTP semantics (conditional
// GET, Range/If-Range), so retry and resume above this layer do not care about the scheme.
import { Readable } from 'node:stream';
import { ErrorCodes, PatchbayError } from './errors.js';
import { requestFile } from './file-url.js';
import { requestHttp } from './http-request.js';
import { parseRetryAfter } from './retry.js';
import type { UrlRequest, UrlResponse } from './url-request.js';

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
  if (req.checkUrl) await req.checkUrl(parsed);
  switch (parsed.protocol) {
    case 'http:':
    case 'https:':
      return keepArrivedBytes(await requestHttp(parsed, req));
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

/**
 * PB_ERR_SIZE_MISMATCH when a 200/206 announces a Content-Length other than the `expected`
 * body bytes: such an answer cannot be the file (a lying or confused server), so it is refused
 * before a byte of it is stored or counted. No header, no check (chunked answers are cut off
 * while streaming instead).
 */
export function announcedLengthError(
  url: string,
  res: Pick<UrlResponse, 'status' | 'contentLength'>,
  expected: number,
): PatchbayError | undefined {
  if (res.contentLength === undefined || res.contentLength === expected) return undefined;
  return new PatchbayError(
    ErrorCodes.SIZE_MISMATCH,
    `${url} announces ${res.contentLength} bytes (HTTP ${res.status}), expected ${expected}`,
    { url, status: res.status, expected, announced: res.contentLength },
  );
}

/** How far an eagerly read body may run ahead of its reader. */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * undici destroys a body stream when its connection fails, and a destroyed stream drops the
 * chunks that had arrived but were not read yet (its 64 KiB buffer, or all of a small file that
 * arrived while the reader was fsyncing the resume sidecar). For a resumable download every
 * byte that arrived is worth keeping, so 200/206 bodies are read as they arrive into a bounded
 * queue, and a connection error reaches the reader only after every queued byte did.
 */
function keepArrivedBytes(res: UrlResponse): UrlResponse {
  if (res.status !== 200 && res.status !== 206) return res;
  // Listeners go on now, not when the reader starts: bytes (or the error) may arrive first.
  const arrived = collectArrived(res.body);
  const body = Readable.from(arrived.chunks(), { objectMode: false });
  return {
    ...res,
    body,
    discard: async () => {
      arrived.detach();
      body.destroy();
      await res.discard();
    },
  };
}

interface Arrived {
  /** every chunk that arrived, in order; then the end, or the connection's error */
  chunks(): AsyncGenerator<Buffer>;
  /** stop collecting (the source is left to its owner) */
  detach(): void;
}

function collectArrived(source: Readable): Arrived {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const onData = (chunk: Buffer): void => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= READ_AHEAD_BYTES) source.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: unknown): void => {
    failure ??= { error };
    notify();
  };
  const closedEarly = (): void => {
    // Closed without 'end' (or destroyed before we listened): the body was cut short.
    if (!ended)
      onError(Object.assign(new Error('response body closed before its end'), { code: 'ECONNRESET' }));
  };
  const detach = (): void => {
    source.off('data', onData).off('end', onEnd).off('error', onError).off('close', closedEarly);
  };
  source.on('data', onData).on('end', onEnd).on('error', onError).on('close', closedEarly);
  if (source.destroyed) closedEarly();

  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const chunk = queue.shift();
        if (chunk !== undefined) {
          queued -= chunk.length;
          if (queued < READ_AHEAD_BYTES && source.isPaused() && !source.destroyed) source.resume();
          yield chunk;
        } else if (ended) {
          return;
        } else if (failure) {
          throw failure.error;
        } else {
          await new Promise<void>((resolve) => (wake = resolve));
        }
      }
    } finally {
      detach();
      // undici's body emits RequestAbortedError when destroyed early: with no listener left it would crash the process.
      if (!ended) source.on('error', () => undefined).destroy();
    }
  }
  return { chunks, detach };
}
