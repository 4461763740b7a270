// The answer for one verified, content-addressed file: a blob at /v1/blobs/sha256/<hex> or the
// same bytes as a TUF target at /v1/tuf/targets/<dir>/<hex>.<name>. Strong ETag "<hex>" (the
// digest is the identity), immutable for a year, conditional GET (If-Match, If-Unmodified-Since,
// If-None-Match, If-Modified-Since in RFC 9110 §13.2.2's order), Range with a strong If-Range
// only (RFC 9110; @fastify/static's weak ETag gets that wrong, see TOOLING.md).
import { open } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { decideRange, evaluatePreconditions, ifRangeAllowsRange } from '@patchbay/core';
import { HttpErrors } from './errors.js';

// 64 KiB reads (Node's default), not the 1 MiB that hashes faster: each read is a fresh
// buffer, and 1 MiB ones made V8 collect the whole heap so often that a server holding a
// 20,000-patch catalog served blobs at half speed; they also held up to 1 MiB per slow
// client (docs/performance.md, "Blob serving").
const STREAM_CHUNK = 64 * 1024;

/**
 * Send `file` (the store's file for digest `hex`). `notFound` is thrown when the file is gone
 * between lookup and open (gc). Open first, then fstat the open file: the size and the bytes
 * come from one inode.
 */
export async function sendVerifiedFile(
  request: FastifyRequest,
  reply: FastifyReply,
  file: string,
  hex: string,
  notFound: () => Error,
): Promise<FastifyReply> {
  const handle = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw notFound();
    throw err;
  });
  let handedOver = false;
  try {
    const { size, mtime } = await handle.stat();
    const etag = `"${hex}"`;
    // Decided before any header is set: a 412 or 416 is an error, not this file, and must not
    // carry its ETag or its year-long immutable caching.
    const precondition = evaluatePreconditions(request.headers, { etag, lastModified: mtime });
    if (precondition === 'failed') throw HttpErrors.PRECONDITION_FAILED(`sha256:${hex}`, etag);
    const rangeHeader =
      request.method === 'GET' && ifRangeAllowsRange(firstValue(request.headers['if-range']), etag, mtime)
        ? request.headers.range
        : undefined;
    const range = decideRange(rangeHeader, size);
    if (precondition === 'proceed' && range.kind === 'unsatisfiable')
      throw HttpErrors.RANGE_NOT_SATISFIABLE(size);

    reply
      .type('application/octet-stream')
      .header('etag', etag)
      .header('last-modified', mtime.toUTCString())
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('accept-ranges', 'bytes')
      .header('x-content-type-options', 'nosniff');
    if (precondition === 'not-modified') return reply.code(304).send();

    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    reply.header('content-length', String(end - start + 1));
    if (request.method === 'HEAD' || size === 0) return reply.send();

    handedOver = true;
    return reply.send(handle.createReadStream({ start, end, highWaterMark: STREAM_CHUNK }));
  } finally {
    if (!handedOver) await handle.close();
  }
}

function firstValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}
