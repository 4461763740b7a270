// file: side of the request function. A feed on removable media answers like an HTTP
// server would: validators from size and mtime, 304 for matching conditionals, 206 for
// a Range whose If-Range still matches, 416 past the end, 404/403 for missing/unreadable.
import type { BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Readable, addAbortSignal } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { HASH_READ_BYTES } from './hash.js';
import type { UrlRequest, UrlResponse } from './url-request.js';

/**
 * Weak ETag of a file: W/"size-mtimeMs" (weak: it tracks metadata, not the bytes). From
 * bigint stats, because the float mtimeMs can read 122.9998 for a file stamped at .123.
 */
export function fileEtag(info: Pick<BigIntStats, 'size' | 'mtimeNs'>): string {
  return `W/"${info.size}-${info.mtimeNs / 1_000_000n}"`;
}

/** Last-Modified of a file: its mtime as an HTTP (UTC) date. */
export function fileLastModified(info: Pick<BigIntStats, 'mtime'>): string {
  return info.mtime.toUTCString();
}

const OPEN_ERROR_STATUS: Record<string, number> = {
  ENOENT: 404,
  ENOTDIR: 404,
  EISDIR: 404,
  EACCES: 403,
  EPERM: 403,
};

export async function requestFile(url: URL, req: UrlRequest): Promise<UrlResponse> {
  const headers = lowerCaseKeys(req.headers ?? {});
  let handle: FileHandle;
  try {
    handle = await open(fileURLToPath(url), 'r');
  } catch (err) {
    const status = OPEN_ERROR_STATUS[(err as NodeJS.ErrnoException).code ?? ''];
    if (status === undefined) throw err;
    return emptyResponse(status);
  }
  try {
    const info = await handle.stat({ bigint: true });
    const size = Number(info.size);
    if (!info.isFile()) {
      await handle.close();
      return emptyResponse(404);
    }
    const etag = fileEtag(info);
    const lastModified = fileLastModified(info);
    const validators = { etag, lastModified };

    if (isNotModified(headers, info, etag)) {
      await handle.close();
      return emptyResponse(304, validators);
    }

    const rangeStart = requestedRangeStart(headers, etag, lastModified);
    if (rangeStart !== undefined && rangeStart >= size) {
      await handle.close();
      return { ...emptyResponse(416, validators), contentRange: `bytes */${size}` };
    }
    const start = rangeStart ?? 0;
    const body = handle.createReadStream({ start, highWaterMark: HASH_READ_BYTES, autoClose: true });
    if (req.signal) addAbortSignal(req.signal, body);
    return {
      status: rangeStart === undefined ? 200 : 206,
      ...validators,
      contentRange: rangeStart === undefined ? undefined : `bytes ${start}-${size - 1}/${size}`,
      body,
      discard: async () => {
        body.destroy();
      },
    };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** If-None-Match (weak comparison) wins over If-Modified-Since, as RFC 9110 orders them. */
function isNotModified(headers: Record<string, string>, info: BigIntStats, etag: string): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const ours = stripWeak(etag);
    return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || stripWeak(tag.trim()) === ours);
  }
  const ifModifiedSince = headers['if-modified-since'];
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    return !Number.isNaN(since) && Number(info.mtimeNs / 1_000_000_000n) * 1000 <= since;
  }
  return false;
}

/**
 * Start of a `Range: bytes=N-` request that still applies. If-Range must equal this file's
 * ETag or Last-Modified exactly; the ETag encodes size and mtime, which is the validator for
 * a file (its "weak" mark means metadata-based, and only we compare it here).
 */
function requestedRangeStart(
  headers: Record<string, string>,
  etag: string,
  lastModified: string,
): number | undefined {
  const match = /^bytes=(\d+)-$/.exec(headers.range?.trim() ?? '');
  if (!match) return undefined;
  const ifRange = headers['if-range'];
  if (ifRange !== undefined && ifRange !== etag && ifRange !== lastModified) return undefined;
  return Number(match[1]);
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

function emptyResponse(
  status: number,
  validators: { etag?: string; lastModified?: string } = {},
): UrlResponse {
  return { status, ...validators, body: Readable.from([]), discard: async () => undefined };
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}
