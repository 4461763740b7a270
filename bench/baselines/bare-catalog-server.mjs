// Baseline: a bare node:http server answering GET /v1/catalog from buffers held in memory —
// 304 on a matching If-None-Match, else the gzip bytes (or identity). What a catalog poll
// costs with no framework at all.
//   node bare-catalog-server.mjs CATALOG_JSON
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';

const bytes = readFileSync(process.argv[2]);
const gzip = gzipSync(bytes, { level: 6 });
const etag = `"${createHash('sha256').update(bytes).digest('hex')}"`;

const server = createServer((req, res) => {
  if (req.url !== '/v1/catalog') {
    res.writeHead(404).end();
    return;
  }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag }).end();
    return;
  }
  const gz = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  const body = gz ? gzip : bytes;
  res.writeHead(200, {
    etag,
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    vary: 'Accept-Encoding',
    ...(gz ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
