// Baseline: the least a Node server can do to serve a blob store — node:http and
// createReadStream, no framework, no validation beyond the digest shape, no logging.
//   node bare-blob-server.mjs BLOBS_DIR   (BLOBS_DIR = <store>/blobs/sha256)
import { createReadStream, stat } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';

const root = process.argv[2];
const DIGEST = /^\/v1\/blobs\/sha256\/([0-9a-f]{64})$/;

const server = createServer((req, res) => {
  const match = DIGEST.exec(req.url ?? '');
  if (!match) {
    res.writeHead(404).end();
    return;
  }
  const file = path.join(root, match[1].slice(0, 2), match[1]);
  stat(file, (err, info) => {
    if (err) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': info.size });
    createReadStream(file).pipe(res);
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
