// http:/https: side of the request function (undici).
import { request } from 'undici';
import { defaultDispatcher } from './dispatcher.js';
import type { UrlRequest, UrlResponse } from './request.js';

export async function requestHttp(url: URL, req: UrlRequest): Promise<UrlResponse> {
  const res = await request(url, {
    method: 'GET',
    headers: req.headers ?? {},
    dispatcher: req.dispatcher ?? defaultDispatcher(),
    signal: req.signal,
    // undici's timeouts are exactly "no headers / no body bytes for this long": a stall.
    headersTimeout: req.stallTimeoutMs,
    bodyTimeout: req.stallTimeoutMs,
  });
  const body = res.body;
  return {
    status: res.statusCode,
    etag: header(res.headers, 'etag'),
    lastModified: header(res.headers, 'last-modified'),
    contentRange: header(res.headers, 'content-range'),
    retryAfter: header(res.headers, 'retry-after'),
    contentLength: contentLength(header(res.headers, 'content-length')),
    body,
    discard: async () => {
      // dump() reads a small remainder to keep the connection reusable, else destroys it.
      await body.dump().catch(() => undefined);
    },
  };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}
