/**
 * Reference upstream: serves a feed directory over plain HTTP the way a vendor's web server
 * would, with the validators the staging server's sync relies on.
 *
 * Built on node:http rather than fastify + @fastify/static: its `send` gives a weak ETag
 * (W/size-mtime) and still answers 206 to an If-Range carrying it, while resume tests need a
 * strong content ETag and a correct If-Range (RFC 9110 §13.1.5).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  createLogger,
  decideRange,
  evaluatePreconditions,
  ifRangeAllowsRange,
  type Logger,
} from '@patchbay/core';
import { EtagCache } from './etag-cache.js';
import { isWithinRoot, resolveRequestPath } from './request-path.js';
import { throttleStream } from './throttle.js';

export interface UpstreamHandlerOptions {
  /** the feed directory to serve */
  root: string;
  logger?: Logger;
  /** pace every response body to at most this many bytes per second (tests interrupt slow syncs) */
  throttleBytesPerSecond?: number;
}

export interface UpstreamServerOptions extends UpstreamHandlerOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 0 (a free port) */
  port?: number;
}

export interface UpstreamServer {
  /** http://HOST:PORT/ */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.sig': 'text/plain; charset=utf-8',
  '.sh': 'text/x-shellscript; charset=utf-8',
  '.conf': 'text/plain; charset=utf-8',
  '.sql': 'application/sql',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The request handler, on its own so that later test hooks (fault injection) can wrap it:
 * a wrapper sees every request first and can answer it or pass it on.
 */
export function createUpstreamHandler(opts: UpstreamHandlerOptions): RequestHandler {
  const root = resolve(opts.root);
  const logger = opts.logger ?? createLogger({ name: 'patchbay-upstream' });
  const etags = new EtagCache();
  const realRoot = realpath(root).catch(() => root);

  return (req, res) => {
    const startedAt = process.hrtime.bigint();
    let bytes = 0;
    // 'close' rather than 'finish': a client that hangs up mid-body is logged too.
    res.on('close', () => {
      logger.debug(
        {
          method: req.method,
          url: req.url,
          status: res.statusCode,
          range: req.headers.range,
          bytes,
          complete: res.writableFinished,
          ms: Number(process.hrtime.bigint() - startedAt) / 1e6,
        },
        'request',
      );
    });
    const throttle = opts.throttleBytesPerSecond;
    serveFile(req, res, { root, realRoot, etags, throttle }, (n) => (bytes = n)).catch((err: unknown) => {
      logger.warn({ err, method: req.method, url: req.url }, 'request failed');
      if (!res.headersSent) sendStatus(res, 500, 'internal error');
      else res.destroy();
    });
  };
}

interface ServeContext {
  root: string;
  realRoot: Promise<string>;
  etags: EtagCache;
  throttle: number | undefined;
}

async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: ServeContext,
  countBytes: (n: number) => void,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendStatus(res, 405, 'method not allowed');
  }
  const resolved = resolveRequestPath(ctx.root, req.url ?? '');
  if (!resolved.ok) return sendStatus(res, resolved.status, resolved.reason);

  const handle = await openRegularFile(resolved.path, await ctx.realRoot);
  if (!handle) return sendStatus(res, 404, 'not found');
  let streaming = false;
  try {
    const stats = await handle.stat();
    const etag = await ctx.etags.etagFor(resolved.path, handle, stats);
    // HTTP dates have second precision: the one we send is the one compared
    const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000);
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', lastModified.toUTCString());
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'no-cache');

    const precondition = evaluatePreconditions(req.headers, { etag, lastModified });
    if (precondition === 'not-modified') {
      res.statusCode = 304;
      res.end();
      return;
    }
    if (precondition === 'failed') return sendStatus(res, 412, 'precondition failed');

    const size = stats.size;
    let start = 0;
    let end = size - 1;
    res.statusCode = 200;
    // Range is defined for GET only (RFC 9110 §14.2); HEAD answers as a plain GET would.
    const ifRange = req.headers['if-range'] as string | undefined;
    const rangeHeader =
      req.method === 'GET' && ifRangeAllowsRange(ifRange, etag, lastModified) ? req.headers.range : undefined;
    const decision = decideRange(rangeHeader, size, 'unsatisfiable');
    if (decision.kind === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      return sendStatus(res, 416, 'range not satisfiable');
    }
    if (decision.kind === 'partial') {
      ({ start, end } = decision);
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
    res.setHeader(
      'Content-Type',
      CONTENT_TYPES[extname(resolved.path).toLowerCase()] ?? 'application/octet-stream',
    );
    res.setHeader('Content-Length', String(end - start + 1));
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    // Stream from the handle already validated: the bytes match the ETag even if the file is
    // replaced meanwhile. The stream owns (and closes) the handle from here on.
    streaming = true;
    const body = handle.createReadStream({ start, end, highWaterMark: 1 << 16 });
    let sent = 0;
    body.on('data', (chunk: Buffer | string) => countBytes((sent += chunk.length)));
    const paced =
      ctx.throttle === undefined ? pipeline(body, res) : pipeline(body, throttleStream(ctx.throttle), res);
    await paced.catch((err: NodeJS.ErrnoException) => {
      // A client that hangs up mid-body is normal (resume tests do it on purpose).
      if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    });
  } finally {
    if (!streaming) await handle.close();
  }
}

/**
 * Open `path` only when it is a regular file whose real path stays inside the root: a symlink
 * inside the feed directory pointing elsewhere is not followed out.
 */
async function openRegularFile(path: string, realRoot: string): Promise<FileHandle | undefined> {
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined) return undefined;
  if (!isWithinRoot(realRoot, real) || real === realRoot) return undefined;
  const handle = await open(real, 'r').catch(() => undefined);
  if (!handle) return undefined;
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    return undefined;
  }
  return handle;
}

function sendStatus(res: ServerResponse, status: number, message: string): void {
  const body = `${JSON.stringify({ statusCode: status, message })}\n`;
  res.statusCode = status;
  for (const name of ['ETag', 'Last-Modified', 'Accept-Ranges', 'Cache-Control']) {
    if (status >= 400) res.removeHeader(name);
  }
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const CLOSE_GRACE_MS = 2000;

function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/** Listen on host:port (default 127.0.0.1, a free port) and serve `root`. */
export async function startUpstreamServer(opts: UpstreamServerOptions): Promise<UpstreamServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = createServer(createUpstreamHandler(opts));
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: formatUrl(host, port),
    host,
    port,
    close() {
      closing ??= new Promise<void>((resolveClose, rejectClose) => {
        // Stop accepting, drop idle keep-alive sockets, give requests in flight a moment.
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        server.close((err) => {
          clearTimeout(force);
          if (err) rejectClose(err);
          else resolveClose();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
