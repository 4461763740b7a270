// An upstream URL's `user:password@` is sent as HTTP basic auth to that origin only: kept on a
// redirect within the origin, dropped on a redirect to another (a hostile upstream cannot
// collect them through a redirect), with and without a UrlCheck. Real loopback servers.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { fetchConditional } from '../src/http-fetch.js';

const fast = { retries: 0, retryBaseMs: 10, stallTimeoutMs: 2000 };
const BASIC = `Basic ${Buffer.from('mirror:s3cret').toString('base64')}`;

/** A server answering `routes` (path → [status, location?]) and recording each request's headers. */
async function recordingServer(t: Test, routes: Record<string, [number, string?]>) {
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    const [status, location] = routes[req.url ?? ''] ?? [404];
    res.writeHead(status, location ? { location } : {});
    res.end(status === 200 ? 'the body' : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { seen, base, routes };
}

for (const checked of [false, true]) {
  const mode = checked ? 'with a UrlCheck' : 'through the dispatcher';
  t.test(`${mode}: credentials go to their origin only`, async (t) => {
    const other = await recordingServer(t, { '/loot': [200] });
    const upstream = await recordingServer(t, {});
    // the hop within the origin is absolute, without the credentials: they follow all the same
    upstream.routes['/feed'] = [302, `${upstream.base}/moved`];
    upstream.routes['/moved'] = [302, `${other.base}/loot`];
    const url = upstream.base.replace('http://', 'http://mirror:s3cret@') + '/feed';
    const result = await fetchConditional(
      url,
      {},
      { ...fast, ...(checked ? { checkUrl: () => undefined } : {}) },
    );
    t.equal(result.notModified ? null : result.body.toString(), 'the body');
    t.same(
      upstream.seen.map((r) => [r.path, r.headers.authorization]),
      [
        ['/feed', BASIC],
        ['/moved', BASIC],
      ],
      'sent as basic auth, on the hop within the origin too',
    );
    t.same(
      other.seen.map((r) => [r.path, r.headers.authorization]),
      [['/loot', undefined]],
      'never to the other origin',
    );
  });
}
