import { gunzipSync } from 'node:zlib';
import { request as rawRequest } from 'node:http';
import t from 'tap';
import { request } from 'undici';
import { startHarness } from './fixtures/http-harness.js';
import { patch, sha256 } from './fixtures/http-mirror.js';

/** A request whose path is sent byte for byte (fetch would normalise "../"). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = rawRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('catalog: 503 before the first publication, then 200 with strong ETag', async (t) => {
  const h = await startHarness(t);
  const before = await fetch(`${h.base}/v1/catalog`);
  t.equal(before.status, 503);
  const error = (await before.json()) as { statusCode: number; error: string; message: string };
  t.same(error.statusCode, 503);
  t.equal(error.error, 'Service Unavailable');
  t.match(error.message, /no catalog has been published yet/);

  const published = h.mirror.publish([patch('T5KB0042')]);
  const res = await request(`${h.base}/v1/catalog`);
  t.equal(res.statusCode, 200);
  const body = Buffer.from(await res.body.arrayBuffer());
  t.ok(body.equals(published.bytes), 'serves the exact published bytes');
  t.equal(res.headers.etag, `"${sha256(published.bytes)}"`);
  t.equal(res.headers['cache-control'], 'no-cache');
  t.equal(res.headers['vary'], 'Accept-Encoding');
  t.match(String(res.headers['content-type']), /^application\/json/);
  t.equal(res.headers['content-encoding'], undefined, 'identity without Accept-Encoding');
});

t.test('catalog: If-None-Match gives 304, with lists and weak tags', async (t) => {
  const h = await startHarness(t);
  const { etag } = h.mirror.publish([patch('T5KB0042')]);
  for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const res = await request(`${h.base}/v1/catalog`, { headers: { 'if-none-match': inm } });
    t.equal(res.statusCode, 304, inm);
    t.equal(res.headers.etag, etag);
    t.equal((await res.body.text()).length, 0);
  }
  const changed = await request(`${h.base}/v1/catalog`, { headers: { 'if-none-match': '"stale"' } });
  t.equal(changed.statusCode, 200);
  await changed.body.dump();
  // after a new publication the old tag no longer matches
  h.mirror.publish([patch('T5KB0042'), patch('T5KB0043')], 2);
  const after = await request(`${h.base}/v1/catalog`, { headers: { 'if-none-match': etag } });
  t.equal(after.statusCode, 200);
  await after.body.dump();
});

t.test('catalog: gzip when the client accepts it, the precomputed bytes', async (t) => {
  const h = await startHarness(t);
  const published = h.mirror.publish([patch('T5KB0042')]);
  const res = await request(`${h.base}/v1/catalog`, { headers: { 'accept-encoding': 'br;q=1, gzip;q=0.8' } });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-encoding'], 'gzip');
  t.equal(res.headers['vary'], 'Accept-Encoding');
  const zipped = Buffer.from(await res.body.arrayBuffer());
  t.ok(zipped.equals(published.gzip), 'the buffer computed at publish');
  t.ok(gunzipSync(zipped).equals(published.bytes));

  const refused = await request(`${h.base}/v1/catalog`, {
    headers: { 'accept-encoding': 'gzip;q=0, *;q=1' },
  });
  t.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 is a refusal');
  await refused.body.dump();
  const head = await request(`${h.base}/v1/catalog`, { method: 'HEAD' });
  t.equal(head.statusCode, 200);
  t.equal(head.headers.etag, published.etag);
  await head.body.dump();
});

t.test('blobs: full GET, HEAD, immutable caching headers', async (t) => {
  const h = await startHarness(t);
  const content = Buffer.from('0123456789abcdefghij'.repeat(1000));
  const hex = await h.mirror.addBlob(content);
  const res = await request(`${h.base}/v1/blobs/sha256/${hex}`);
  t.equal(res.statusCode, 200);
  t.ok(Buffer.from(await res.body.arrayBuffer()).equals(content));
  t.equal(res.headers.etag, `"${hex}"`);
  t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.equal(res.headers['accept-ranges'], 'bytes');
  t.equal(res.headers['content-length'], String(content.length));
  t.equal(res.headers['content-type'], 'application/octet-stream');

  const head = await request(`${h.base}/v1/blobs/sha256/${hex}`, { method: 'HEAD' });
  t.equal(head.statusCode, 200);
  t.equal(head.headers['content-length'], String(content.length));
  t.equal(head.headers.etag, `"${hex}"`);
  t.equal((await head.body.text()).length, 0);

  const notModified = await request(`${h.base}/v1/blobs/sha256/${hex}`, {
    headers: { 'if-none-match': `W/"${hex}"` },
  });
  t.equal(notModified.statusCode, 304);
  await notModified.body.dump();
});

t.test('blobs: single ranges, suffix ranges, 416, If-Range', async (t) => {
  const h = await startHarness(t);
  const content = Buffer.from('abcdefghijklmnopqrstuvwxyz');
  const hex = await h.mirror.addBlob(content);
  const url = `${h.base}/v1/blobs/sha256/${hex}`;

  const partial = await request(url, { headers: { range: 'bytes=2-5' } });
  t.equal(partial.statusCode, 206);
  t.equal(partial.headers['content-range'], `bytes 2-5/${content.length}`);
  t.equal(await partial.body.text(), 'cdef');

  const open = await request(url, { headers: { range: 'bytes=20-' } });
  t.equal(open.statusCode, 206);
  t.equal(await open.body.text(), 'uvwxyz');

  const suffix = await request(url, { headers: { range: 'bytes=-3' } });
  t.equal(suffix.statusCode, 206);
  t.equal(suffix.headers['content-range'], `bytes 23-25/${content.length}`);
  t.equal(await suffix.body.text(), 'xyz');

  const clamped = await request(url, { headers: { range: 'bytes=24-1000' } });
  t.equal(clamped.statusCode, 206);
  t.equal(await clamped.body.text(), 'yz');

  const unsatisfiable = await request(url, { headers: { range: 'bytes=26-30' } });
  t.equal(unsatisfiable.statusCode, 416);
  t.equal(unsatisfiable.headers['content-range'], `bytes */${content.length}`);
  const error = (await unsatisfiable.body.json()) as { statusCode: number };
  t.equal(error.statusCode, 416);

  const strongMatch = await request(url, { headers: { range: 'bytes=0-1', 'if-range': `"${hex}"` } });
  t.equal(strongMatch.statusCode, 206);
  t.equal(await strongMatch.body.text(), 'ab');

  for (const ifRange of [`W/"${hex}"`, '"0000"', 'Tue, 01 Jan 2019 00:00:00 GMT']) {
    const mismatch = await request(url, { headers: { range: 'bytes=0-1', 'if-range': ifRange } });
    t.equal(mismatch.statusCode, 200, `If-Range ${ifRange} does not match: full body`);
    t.equal(await mismatch.body.text(), content.toString());
  }
  const lastModified = strongMatch.headers['last-modified'];
  const byDate = await request(url, { headers: { range: 'bytes=0-1', 'if-range': String(lastModified) } });
  t.equal(byDate.statusCode, 206, 'If-Range with the exact Last-Modified date');
  await byDate.body.dump();

  const multi = await request(url, { headers: { range: 'bytes=0-1,4-5' } });
  t.equal(multi.statusCode, 200, 'multiple ranges are answered with the whole blob');
  await multi.body.dump();
});

t.test('blobs: malformed digests get 400 before the disk is touched; unknown gets 404', async (t) => {
  const h = await startHarness(t);
  const hex = await h.mirror.addBlob('x');
  const malformed = [
    hex.toUpperCase(),
    hex.slice(0, 63),
    `${hex}0`,
    'g'.repeat(64),
    '..%2F..%2Fetc%2Fpasswd',
    '%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    '../../etc/passwd',
    `${hex}/..`,
    '',
  ];
  for (const bad of malformed) {
    const res = await rawGet(h.base, `/v1/blobs/sha256/${bad}`);
    t.equal(res.status, 400, `400 for ${JSON.stringify(bad)}`);
    const body = JSON.parse(res.body) as { statusCode: number; error: string; message: string };
    t.same(body, { statusCode: 400, error: 'Bad Request', message: body.message });
    t.match(body.message, /malformed digest/);
  }
  t.same(h.mirror.blobPathCalls, [], 'no malformed digest reached the mirror');

  const unknown = 'a'.repeat(64);
  const res = await fetch(`${h.base}/v1/blobs/sha256/${unknown}`);
  t.equal(res.status, 404);
  t.match(((await res.json()) as { message: string }).message, /not in this mirror/);
  t.same(h.mirror.blobPathCalls, [unknown]);
});

t.test('unknown routes: 404 in the error shape', async (t) => {
  const h = await startHarness(t);
  const res = await fetch(`${h.base}/v1/nope`);
  t.equal(res.status, 404);
  t.same(await res.json(), { statusCode: 404, error: 'Not Found', message: 'Route GET:/v1/nope not found' });
});

t.test('blobs: If-Match and If-Unmodified-Since give 412 (RFC 9110 §13.1.1, §13.1.4)', async (t) => {
  const h = await startHarness(t);
  const hex = await h.mirror.addBlob('precondition bytes');
  const url = `${h.base}/v1/blobs/sha256/${hex}`;
  const first = await request(url);
  const lastModified = String(first.headers['last-modified']);
  await first.body.dump();
  const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  const after = new Date(Date.parse(lastModified) + 60_000).toUTCString();

  const answers: [Record<string, string>, number, string][] = [
    [{ 'if-match': `"${hex}"` }, 200, 'If-Match: the current tag'],
    [{ 'if-match': `"other", "${hex}"` }, 200, 'If-Match: in a list'],
    [{ 'if-match': '*' }, 200, 'If-Match: *'],
    [{ 'if-match': '"other"' }, 412, 'If-Match: another tag'],
    [{ 'if-match': `W/"${hex}"` }, 412, 'If-Match: a weak tag never matches (strong comparison)'],
    [{ 'if-unmodified-since': after }, 200, 'If-Unmodified-Since: a later date'],
    [{ 'if-unmodified-since': lastModified }, 200, 'If-Unmodified-Since: the same date'],
    [{ 'if-unmodified-since': before }, 412, 'If-Unmodified-Since: an earlier date'],
    [{ 'if-unmodified-since': 'not a date' }, 200, 'If-Unmodified-Since: not a date, ignored'],
    [
      { 'if-match': `"${hex}"`, 'if-unmodified-since': before },
      200,
      'If-Match wins over If-Unmodified-Since',
    ],
    [{ 'if-match': '"other"', 'if-none-match': `"${hex}"` }, 412, '412 is decided before 304'],
    [{ 'if-match': '"other"', range: 'bytes=0-1' }, 412, '412 is decided before a range'],
  ];
  for (const [headers, status, what] of answers) {
    const res = await request(url, { headers });
    t.equal(res.statusCode, status, what);
    if (status === 412) {
      t.equal(res.headers['cache-control'], undefined, `${what}: not cacheable as the blob`);
      t.equal(res.headers.etag, undefined, `${what}: no ETag`);
      t.match(await res.body.json(), { statusCode: 412, error: 'Precondition Failed', message: /If-Match/ });
    } else await res.body.dump();
  }
  const head = await request(url, { method: 'HEAD', headers: { 'if-match': '"other"' } });
  t.equal(head.statusCode, 412, 'HEAD too');
  await head.body.dump();
});

t.test('blobs: a 416 is not the blob: no immutable caching, no ETag', async (t) => {
  const h = await startHarness(t);
  const hex = await h.mirror.addBlob('0123456789');
  const res = await request(`${h.base}/v1/blobs/sha256/${hex}`, { headers: { range: 'bytes=10-' } });
  t.equal(res.statusCode, 416);
  t.equal(res.headers['content-range'], 'bytes */10');
  t.equal(res.headers['cache-control'], undefined, 'no Cache-Control: immutable on an error');
  t.equal(res.headers.etag, undefined);
  t.equal(res.headers['last-modified'], undefined);
  await res.body.dump();
  // a 304 still wins over an unsatisfiable range (§13.2.2: preconditions first)
  const cached = await request(`${h.base}/v1/blobs/sha256/${hex}`, {
    headers: { range: 'bytes=10-', 'if-none-match': `"${hex}"` },
  });
  t.equal(cached.statusCode, 304);
  t.equal(cached.headers['cache-control'], 'public, max-age=31536000, immutable');
  await cached.body.dump();
});

t.test('known paths, other methods: 405 with Allow, the body never read', async (t) => {
  const h = await startHarness(t);
  const hex = await h.mirror.addBlob('x');
  const cases: [string, string, string][] = [
    ['POST', `/v1/blobs/sha256/${hex}`, 'GET, HEAD'],
    ['PUT', `/v1/blobs/sha256/${hex}`, 'GET, HEAD'],
    ['DELETE', `/v1/blobs/sha256/${hex}`, 'GET, HEAD'],
    ['OPTIONS', `/v1/blobs/sha256/${hex}`, 'GET, HEAD'],
    ['POST', '/v1/catalog', 'GET, HEAD'],
    ['PATCH', '/v1/status', 'GET, HEAD'],
    ['GET', '/v1/sync', 'POST'],
    ['DELETE', '/v1/clients/host-a/report', 'PUT'],
  ];
  for (const [method, path, allow] of cases) {
    const res = await request(`${h.base}${path}`, { method: method as 'GET' });
    t.equal(res.statusCode, 405, `${method} ${path}`);
    t.equal(res.headers.allow, allow, `Allow: ${allow}`);
    t.match(await res.body.json(), {
      statusCode: 405,
      error: 'Method Not Allowed',
      message: new RegExp(`^${method} is not allowed on `),
    });
  }
  // a body larger than any limit: refused before it is read (413 would mean it was)
  const big = await request(`${h.base}/v1/catalog`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(1 << 20),
  });
  t.equal(big.statusCode, 405);
  await big.body.dump();
  t.equal((await fetch(`${h.base}/v1/nope`, { method: 'POST' })).status, 404, 'an unknown path stays 404');
});

t.test('catalog: If-Modified-Since gives 304; If-Match 412; If-None-Match decides first', async (t) => {
  const h = await startHarness(t);
  const { etag } = h.mirror.publish([patch('T5KB0042')]);
  const first = await request(`${h.base}/v1/catalog`);
  const lastModified = String(first.headers['last-modified']);
  await first.body.dump();
  const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
  const answers: [Record<string, string>, number, string][] = [
    [{ 'if-modified-since': lastModified }, 304, 'If-Modified-Since: Last-Modified itself'],
    [{ 'if-modified-since': earlier }, 200, 'If-Modified-Since: a second before'],
    [{ 'if-modified-since': 'yesterday' }, 200, 'If-Modified-Since: not a date'],
    [{ 'if-none-match': '"stale"', 'if-modified-since': lastModified }, 200, 'If-None-Match decides'],
    [{ 'if-match': '"stale"' }, 412, 'If-Match: another tag'],
    [{ 'if-match': etag }, 200, 'If-Match: the current tag'],
    [{ 'if-unmodified-since': earlier }, 412, 'If-Unmodified-Since: before the publication'],
  ];
  for (const [headers, status, what] of answers) {
    const res = await request(`${h.base}/v1/catalog`, { headers });
    t.equal(res.statusCode, status, what);
    if (status === 304) t.equal(res.headers.etag, etag);
    await res.body.dump();
  }
});

t.test('catalog: gzip only when ranked at least as high as identity', async (t) => {
  const h = await startHarness(t);
  h.mirror.publish([patch('T5KB0042')]);
  const cases: [string, string | undefined][] = [
    ['gzip;q=0.5, identity;q=1', undefined],
    ['identity, gzip;q=0.9', undefined],
    ['*;q=0.8, gzip;q=0.5', undefined],
    ['gzip, identity', 'gzip'],
    ['identity;q=0.5, gzip;q=0.5', 'gzip'],
    ['deflate, gzip;q=0.5', 'gzip'],
  ];
  for (const [acceptEncoding, coding] of cases) {
    const res = await request(`${h.base}/v1/catalog`, { headers: { 'accept-encoding': acceptEncoding } });
    t.equal(res.headers['content-encoding'], coding, acceptEncoding);
    await res.body.dump();
  }
});
