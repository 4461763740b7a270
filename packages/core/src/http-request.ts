// http:/https: side of the request function (undici).
import { request } from 'undici';
import { defaultDispatcher } from './dispatcher.js';
import { ErrorCodes, PatchbayError } from './errors.js';
import type { UrlCheck, UrlRequest, UrlResponse } from './url-request.js';

/** Redirects followed per request when a UrlCheck follows them (as the dispatcher's default). */
export const MAX_CHECKED_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers not carried to another origin (as undici's redirect handler drops them). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

export async function requestHttp(url: URL, req: UrlRequest): Promise<UrlResponse> {
  // The URL's credentials become a header once, here: redirects then carry them like any
  // credential header — on hops within the origin, never to another (both paths below).
  const { target, headers } = withBasicAuth(url, req.headers ?? {});
  const authed = { ...req, headers };
  if (!req.checkUrl) return (await requestOnce(target, authed, false)).response;
  return requestChecked(target, authed, req.checkUrl);
}

/**
 * Redirects followed one hop at a time, each target put to `check` before it is requested
 * (the dispatcher is told not to follow: its redirect interceptor passes the 3xx through).
 * After MAX_CHECKED_REDIRECTS hops the last 3xx is returned, as undici does.
 */
async function requestChecked(url: URL, req: UrlRequest, check: UrlCheck): Promise<UrlResponse> {
  let current = url;
  let headers = { ...req.headers };
  for (let hop = 0; ; hop++) {
    const { response, location } = await requestOnce(current, { ...req, headers }, true);
    if (!REDIRECT_STATUSES.has(response.status) || location === undefined || hop >= MAX_CHECKED_REDIRECTS) {
      return response;
    }
    await response.discard();
    let next: URL;
    try {
      next = new URL(location, current);
    } catch (err) {
      throw new PatchbayError(
        ErrorCodes.UNSUPPORTED_URL,
        `${current.href} redirects to "${location}", which is not a valid URL`,
        { url: current.href, location },
        { cause: err },
      );
    }
    await check(next, current);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new PatchbayError(
        ErrorCodes.UNSUPPORTED_URL,
        `${current.href} redirects to ${next.href}: a redirect is followed to http: or https: only`,
        { url: current.href, location: next.href },
      );
    }
    if (next.origin !== current.origin) {
      headers = Object.fromEntries(
        Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.has(name.toLowerCase())),
      );
    }
    current = next;
  }
}

/**
 * A URL's `user:password@` as HTTP basic auth (undici does not send it): the request goes to the
 * URL without them, so they reach neither undici's errors nor the wire in the request line.
 * An explicit Authorization header wins.
 */
function withBasicAuth(
  url: URL,
  headers: Record<string, string>,
): { target: URL; headers: Record<string, string> } {
  if (url.username === '' && url.password === '') return { target: url, headers };
  const target = new URL(url.href);
  target.username = '';
  target.password = '';
  if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) return { target, headers };
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return { target, headers: { ...headers, authorization: `Basic ${Buffer.from(pair).toString('base64')}` } };
}

async function requestOnce(
  url: URL,
  req: UrlRequest,
  noRedirects: boolean,
): Promise<{ response: UrlResponse; location: string | undefined }> {
  const options: Parameters<typeof request>[1] & { maxRedirections?: number } = {
    method: 'GET',
    headers: req.headers ?? {},
    dispatcher: req.dispatcher ?? defaultDispatcher(),
    signal: req.signal,
    // undici's timeouts are exactly "no headers / no body bytes for this long": a stall.
    headersTimeout: req.stallTimeoutMs,
    bodyTimeout: req.stallTimeoutMs,
  };
  // The redirect interceptor passes a request with maxRedirections 0 through untouched.
  if (noRedirects) options.maxRedirections = 0;
  const res = await request(url, options);
  const body = res.body;
  const response: UrlResponse = {
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
  return { response, location: header(res.headers, 'location') };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}
