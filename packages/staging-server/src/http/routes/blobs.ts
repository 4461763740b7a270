// GET/HEAD /v1/blobs/sha256/:hex — verified, content-addressed patch files.
//
// Written by hand rather than with @fastify/static: its ETag is weak (W/size-mtime)
// and it honours If-Range with a weak validator, which RFC 9110 forbids (see
// TOOLING.md). A blob's identity is its digest, so the strong ETag "<hex>" is exact,
// and the body is immutable: cache it for a year.
import { open } from 'node:fs/promises';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { decideRange, ifNoneMatchMatches, ifRangeAllowsRange, notModifiedSince } from '../conditional.js';
import { HttpErrors } from '../errors.js';
import type { HttpDeps } from '../deps.js';

const DIGEST = /^[0-9a-f]{64}$/;
// 64 KiB reads (Node's default), not the 1 MiB that hashes faster: each read is a fresh
// buffer, and 1 MiB ones made V8 collect the whole heap so often that a server holding a
// 20,000-patch catalog served blobs at half speed; they also held up to 1 MiB per slow
// client (docs/performance.md, "Blob serving").
const STREAM_CHUNK = 64 * 1024;

export const blobRoutes: FastifyPluginAsync<HttpDeps> = async (app, { mirror }) => {
  // A wildcard rather than `:hex`, so that every path under the prefix — including
  // "../../etc/passwd" in several segments — reaches the digest check and gets 400.
  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: '/v1/blobs/sha256/*',
    handler: async (request, reply) => {
      const hex = request.params['*'];
      // The digest check comes before anything touches the disk.
      if (!DIGEST.test(hex)) throw HttpErrors.MALFORMED_DIGEST();
      const file = await mirror.blobPath(hex);
      if (file === null) throw HttpErrors.BLOB_NOT_FOUND(hex);

      // Open first, then fstat the open file: the size and the bytes come from one inode.
      const handle = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw HttpErrors.BLOB_NOT_FOUND(hex);
        throw err;
      });
      let handedOver = false;
      try {
        const { size, mtime } = await handle.stat();
        const etag = `"${hex}"`;
        setBlobHeaders(reply, etag, mtime);

        const ifNoneMatch = request.headers['if-none-match'];
        const notModified =
          ifNoneMatch !== undefined
            ? ifNoneMatchMatches(ifNoneMatch, etag)
            : notModifiedSince(request.headers['if-modified-since'], mtime);
        if (notModified) return reply.code(304).send();

        const rangeHeader =
          request.method === 'GET' && ifRangeAllowsRange(firstValue(request.headers['if-range']), etag, mtime)
            ? request.headers.range
            : undefined;
        const range = decideRange(rangeHeader, size);
        if (range.kind === 'unsatisfiable') throw HttpErrors.RANGE_NOT_SATISFIABLE(size);

        const start = range.kind === 'partial' ? range.start : 0;
        const end = range.kind === 'partial' ? range.end : size - 1;
        if (range.kind === 'partial')
          reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
        reply.header('content-length', String(end - start + 1));
        if (request.method === 'HEAD' || size === 0) return reply.send();

        handedOver = true;
        return reply.send(handle.createReadStream({ start, end, highWaterMark: STREAM_CHUNK }));
      } finally {
        if (!handedOver) await handle.close();
      }
    },
  });
};

function firstValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

function setBlobHeaders(reply: FastifyReply, etag: string, mtime: Date): void {
  reply
    .type('application/octet-stream')
    .header('etag', etag)
    .header('last-modified', mtime.toUTCString())
    .header('cache-control', 'public, max-age=31536000, immutable')
    .header('accept-ranges', 'bytes')
    .header('x-content-type-options', 'nosniff');
}
