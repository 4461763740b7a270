import t from 'tap';
import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstreamServer, type UpstreamServer } from '../src/upstream-server.js';

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function get(server: UpstreamServer, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<Response>((resolve, reject) => {
    const req = request(new URL(path, server.url), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request written byte for byte on a socket, so no client library normalises the path. */
function raw(server: UpstreamServer, target: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 'latin1');
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.on('error', reject);
  });
}

const sha = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

const BIG = Buffer.alloc(300_000);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 31 + 7) & 0xff;
const FEED_JSON = '{"format":"patchbay-feed/1"}\n';

const root = t.testdir({
  feed: {
    'feed.json': FEED_JSON,
    files: { 'big.bin': BIG, 'empty.txt': '' },
  },
  'feed-other': { 'secret.txt': 'sibling secret' },
  'secret.txt': 'top secret',
});
const feedDir = join(root, 'feed');
await symlink(join(root, 'secret.txt'), join(feedDir, 'files', 'escape.txt'));
const server = await startUpstreamServer({ root: feedDir });
t.teardown(() => server.close());

t.test('listens on loopback and serves a file with a strong content ETag', async (t) => {
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const res = await get(server, '/feed.json');
  t.equal(res.status, 200);
  t.equal(res.body.toString(), FEED_JSON);
  t.equal(res.headers.etag, `"${sha(FEED_JSON)}"`);
  t.equal(res.headers['content-type'], 'application/json');
  t.equal(res.headers['content-length'], String(FEED_JSON.length));
  t.equal(res.headers['accept-ranges'], 'bytes');
  t.ok(res.headers['last-modified'] && !Number.isNaN(Date.parse(res.headers['last-modified'])));

  const big = await get(server, '/files/big.bin');
  t.ok(big.body.equals(BIG));
  t.equal(big.headers.etag, `"${sha(BIG)}"`);
});

t.test('a changed file gets a new ETag', async (t) => {
  const path = join(feedDir, 'files', 'changing.txt');
  await writeFile(path, 'one');
  const first = await get(server, '/files/changing.txt');
  await writeFile(path, 'two');
  await utimes(path, new Date(), new Date(Date.now() + 5000));
  const second = await get(server, '/files/changing.txt');
  t.equal(first.headers.etag, `"${sha('one')}"`);
  t.equal(second.headers.etag, `"${sha('two')}"`);
  t.equal(second.body.toString(), 'two');
});

t.test('conditional GET: If-None-Match and If-Modified-Since give 304', async (t) => {
  const first = await get(server, '/feed.json');
  const etag = first.headers.etag!;
  const lastModified = first.headers['last-modified']!;

  const notModified = await get(server, '/feed.json', { 'If-None-Match': etag });
  t.equal(notModified.status, 304);
  t.equal(notModified.body.length, 0);
  t.equal(notModified.headers.etag, etag);
  t.equal(
    (await get(server, '/feed.json', { 'If-None-Match': `"x", W/${etag}` })).status,
    304,
    'weak compare',
  );
  t.equal((await get(server, '/feed.json', { 'If-None-Match': '*' })).status, 304);
  t.equal((await get(server, '/feed.json', { 'If-None-Match': '"other"' })).status, 200);

  t.equal((await get(server, '/feed.json', { 'If-Modified-Since': lastModified })).status, 304);
  const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  t.equal((await get(server, '/feed.json', { 'If-Modified-Since': before })).status, 200);
  t.equal(
    (await get(server, '/feed.json', { 'If-None-Match': '"other"', 'If-Modified-Since': lastModified }))
      .status,
    200,
    'If-None-Match wins over If-Modified-Since',
  );
  t.equal((await get(server, '/feed.json', { 'If-Match': '"other"' })).status, 412);
  t.equal((await get(server, '/feed.json', { 'If-Match': etag })).status, 200);
});

t.test('Range: 206 with Content-Range for a-b, a- and -n', async (t) => {
  const cases: [string, number, number][] = [
    ['bytes=0-99', 0, 99],
    ['bytes=1000-', 1000, BIG.length - 1],
    ['bytes=-500', BIG.length - 500, BIG.length - 1],
    ['bytes=299990-400000', 299_990, BIG.length - 1],
  ];
  for (const [range, start, end] of cases) {
    const res = await get(server, '/files/big.bin', { Range: range });
    t.equal(res.status, 206, range);
    t.equal(res.headers['content-range'], `bytes ${start}-${end}/${BIG.length}`, range);
    t.equal(res.headers['content-length'], String(end - start + 1), range);
    t.ok(res.body.equals(BIG.subarray(start, end + 1)), `${range} bytes`);
    t.equal(res.headers.etag, `"${sha(BIG)}"`, 'the ETag of the whole file');
  }
  const multi = await get(server, '/files/big.bin', { Range: 'bytes=0-1,5-6' });
  t.equal(multi.status, 200, 'several ranges are not served: full body');
  t.equal(multi.body.length, BIG.length);
});

t.test('unsatisfiable ranges give 416 with bytes */size', async (t) => {
  for (const range of [`bytes=${BIG.length}-`, 'bytes=400000-400010', 'bytes=-0']) {
    const res = await get(server, '/files/big.bin', { Range: range });
    t.equal(res.status, 416, range);
    t.equal(res.headers['content-range'], `bytes */${BIG.length}`);
  }
  t.equal((await get(server, '/files/empty.txt', { Range: 'bytes=0-' })).status, 416);
});

t.test(
  'If-Range: a matching strong ETag or exact date keeps the range, anything else gives 200',
  async (t) => {
    const full = await get(server, '/files/big.bin');
    const etag = full.headers.etag!;
    const date = full.headers['last-modified']!;
    const partial = (ifRange: string) =>
      get(server, '/files/big.bin', { Range: 'bytes=10-19', 'If-Range': ifRange });

    t.equal((await partial(etag)).status, 206, 'same strong ETag');
    t.equal((await partial(date)).status, 206, 'same date');
    const stale = await partial(`"${'0'.repeat(64)}"`);
    t.equal(stale.status, 200, 'another ETag: the whole new body');
    t.ok(stale.body.equals(BIG));
    t.notOk(stale.headers['content-range']);
    t.equal((await partial(`W/${etag}`)).status, 200, 'a weak tag never matches');
    t.equal((await partial(new Date(Date.parse(date) - 1000).toUTCString())).status, 200, 'another date');
  },
);

t.test('HEAD gives the headers of GET without a body', async (t) => {
  const res = await get(server, '/files/big.bin', {}, 'HEAD');
  t.equal(res.status, 200);
  t.equal(res.headers['content-length'], String(BIG.length));
  t.equal(res.headers.etag, `"${sha(BIG)}"`);
  t.equal(res.body.length, 0);
  t.equal((await get(server, '/missing.json', {}, 'HEAD')).status, 404);
  t.equal((await get(server, '/feed.json', { 'If-None-Match': `"${sha(FEED_JSON)}"` }, 'HEAD')).status, 304);
});

t.test('404 for missing files and directories, 405 for other methods', async (t) => {
  t.equal((await get(server, '/nope.json')).status, 404);
  t.equal((await get(server, '/files/nope.bin')).status, 404);
  t.equal((await get(server, '/files')).status, 404);
  t.equal((await get(server, '/')).status, 404);
  const post = await get(server, '/feed.json', {}, 'POST');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
  t.equal((await get(server, '/feed.json?x=1')).status, 200, 'a query string is ignored');
});

t.test('traversal attempts never leave the feed directory', async (t) => {
  const attempts = [
    '/../secret.txt',
    '/files/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/%2E%2E/secret.txt',
    '/files/..%2f..%2fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/files\\..\\..\\secret.txt',
    '/feed.json%00',
    '/feed.json%00.txt',
    '/../feed-other/secret.txt',
    '/%2e%2e%2ffeed-other/secret.txt',
    '/./feed.json',
    '/%zz',
    'http://127.0.0.1/../secret.txt',
  ];
  for (const target of attempts) {
    const res = await raw(server, target);
    t.equal(res.status, 400, target);
    t.notMatch(res.text, /secret/, `${target} serves no secret`);
  }
  const link = await raw(server, '/files/escape.txt');
  t.equal(link.status, 404, 'a symlink pointing outside is not followed');
  t.notMatch(link.text, /top secret/);
  t.equal((await raw(server, '/feed.json')).status, 200, 'the raw client itself works');
  t.equal((await raw(server, '/files//big.bin')).status, 200, 'empty segments are harmless');
});

t.test('a client hanging up mid-body does not disturb the server', async (t) => {
  const big = Buffer.alloc(8 << 20, 7);
  await writeFile(join(feedDir, 'files', 'huge.bin'), big);
  await new Promise<void>((resolve, reject) => {
    const req = request(new URL('/files/huge.bin', server.url), { agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
    req.end();
  });
  const after = await get(server, '/files/huge.bin', { Range: 'bytes=-4' });
  t.equal(after.status, 206);
  t.same([...after.body], [7, 7, 7, 7]);
});

t.test('close() stops listening and is idempotent', async (t) => {
  const other = await startUpstreamServer({ root: feedDir, port: 0 });
  t.equal((await get(other, '/feed.json')).status, 200);
  await Promise.all([other.close(), other.close()]);
  await t.rejects(get(other, '/feed.json'), { code: 'ECONNREFUSED' });
});
