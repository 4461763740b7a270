// fetchConditional, the retry layer and the proxy layer, against real loopback servers.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { ErrorCodes } from '../src/errors.js';
import { createDispatcher, fetchConditional } from '../src/http-fetch.js';
import { backoffDelay, parseRetryAfter } from '../src/retry.js';
import { closedPort, startFaultServer, startForwardProxy } from './fixtures/fault-server.js';

const fast = { retries: 3, retryBaseMs: 10, stallTimeoutMs: 2000 };
const FEED = Buffer.from('{"format":"patchbay-feed/1"}\n');
const LAST_MODIFIED = 'Fri, 20 Nov 2026 08:00:00 GMT';

t.test('200 gives the body and validators; matching validators give 304', async (t) => {
  const server = await startFaultServer({
    '/feed.json': { body: FEED, etag: '"v1"', lastModified: LAST_MODIFIED },
  });
  t.teardown(server.close);
  const url = server.url('/feed.json');

  const first = await fetchConditional(url, {}, fast);
  t.same(first, { notModified: false, url, body: FEED, etag: '"v1"', lastModified: LAST_MODIFIED });

  t.same(await fetchConditional(url, { etag: '"v1"' }, fast), { notModified: true, url });
  t.equal(server.requests.at(-1)?.headers['if-none-match'], '"v1"');
  t.same(await fetchConditional(url, { lastModified: LAST_MODIFIED }, fast), { notModified: true, url });
  t.equal(server.requests.at(-1)?.headers['if-modified-since'], LAST_MODIFIED);

  const changed = await fetchConditional(url, { etag: '"v0"' }, fast);
  t.equal(changed.notModified, false);
});

t.test('a burst of 5xx is retried with backoff, then succeeds', async (t) => {
  const server = await startFaultServer({ '/feed.json': { body: FEED, etag: '"v1"' } });
  t.teardown(server.close);
  server.queue(
    '/feed.json',
    { kind: 'status', status: 503, headers: { 'retry-after': '0' } },
    { kind: 'status', status: 502 },
    { kind: 'status', status: 500 },
  );
  const retries: number[] = [];
  const result = await fetchConditional(
    server.url('/feed.json'),
    {},
    { ...fast, onRetry: (i) => retries.push(i.attempt) },
  );
  t.equal(result.notModified, false);
  t.equal(server.requests.length, 4);
  t.same(retries, [1, 2, 3]);
});

t.test('5xx outlasting the retries is PB_ERR_HTTP_STATUS with the last status', async (t) => {
  const server = await startFaultServer({ '/feed.json': { body: FEED } });
  t.teardown(server.close);
  server.queue('/feed.json', ...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 503 })));
  const url = server.url('/feed.json');
  await t.rejects(fetchConditional(url, {}, { ...fast, retries: 2 }), {
    code: ErrorCodes.HTTP_STATUS,
    context: { status: 503, url, attempts: 3 },
    message: new RegExp(url.replace(/[.]/g, '\\.')),
  });
  t.equal(server.requests.length, 3);
});

t.test('Retry-After is honoured up to the cap', async (t) => {
  const server = await startFaultServer({ '/feed.json': { body: FEED } });
  t.teardown(server.close);
  server.queue('/feed.json', { kind: 'status', status: 429, headers: { 'retry-after': '3600' } });
  const delays: number[] = [];
  const started = Date.now();
  await fetchConditional(
    server.url('/feed.json'),
    {},
    { ...fast, retryCapMs: 150, onRetry: (i) => delays.push(i.delayMs) },
  );
  t.same(delays, [150], 'an hour of Retry-After is cut to the cap');
  t.ok(Date.now() - started >= 140, 'and the delay was actually waited');
});

t.test('4xx is not retried', async (t) => {
  const server = await startFaultServer({});
  t.teardown(server.close);
  const url = server.url('/missing.json');
  await t.rejects(fetchConditional(url, {}, fast), {
    code: ErrorCodes.HTTP_STATUS,
    context: { status: 404, url },
  });
  t.equal(server.requests.length, 1, 'exactly one request');
});

t.test('connection refused is retried, then PB_ERR_NETWORK naming the URL', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}/feed.json`;
  const retries: Error[] = [];
  const err = await fetchConditional(
    url,
    {},
    { ...fast, retries: 2, onRetry: (i) => retries.push(i.error) },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(err, { code: ErrorCodes.NETWORK, context: { url, attempts: 3, cause: 'ECONNREFUSED' } });
  t.match((err as Error).message, url);
  t.equal(retries.length, 2);
});

t.test('bodies over maxBytes are cut off while streaming', async (t) => {
  const server = await startFaultServer({ '/big.json': { body: randomBytes(4096) } });
  t.teardown(server.close);
  server.queue('/big.json', { kind: 'endless' });
  await t.rejects(fetchConditional(server.url('/big.json'), {}, { ...fast, maxBytes: 100_000 }), {
    code: ErrorCodes.SIZE_MISMATCH,
    context: { maxBytes: 100_000 },
  });
  t.equal(server.requests.length, 1, 'not retried');
  // an honest Content-Length over the limit fails the same way
  await t.rejects(fetchConditional(server.url('/big.json'), {}, { ...fast, maxBytes: 1000 }), {
    code: ErrorCodes.SIZE_MISMATCH,
  });
  const ok = await fetchConditional(server.url('/big.json'), {}, { ...fast, maxBytes: 4096 });
  t.equal(ok.notModified === false && ok.body.length, 4096, 'exactly maxBytes is fine');
});

t.test('a stalled response is abandoned after stallTimeoutMs and retried', async (t) => {
  const server = await startFaultServer({ '/feed.json': { body: FEED } });
  t.teardown(server.close);
  server.queue('/feed.json', { kind: 'stall-after', bytes: 5 });
  const errors: Error[] = [];
  const result = await fetchConditional(
    server.url('/feed.json'),
    {},
    { ...fast, stallTimeoutMs: 150, onRetry: (i) => errors.push(i.error) },
  );
  t.same(result.notModified === false && result.body, FEED);
  t.match(errors[0], { code: 'UND_ERR_BODY_TIMEOUT' });
});

t.test('requests go through a forwarding proxy when one is configured', async (t) => {
  const server = await startFaultServer({ '/feed.json': { body: FEED, etag: '"v1"' } });
  const proxy = await startForwardProxy();
  const dispatcher = createDispatcher({ proxy: proxy.url });
  t.teardown(async () => {
    await dispatcher.close();
    await proxy.close();
    await server.close();
  });
  const url = server.url('/feed.json');
  const result = await fetchConditional(url, {}, { ...fast, dispatcher });
  t.same(result.notModified === false && result.body, FEED);
  t.same(proxy.forwarded, [url], 'the proxy saw the absolute-form request');
  t.equal(server.requests.length, 1, 'and forwarded it to the origin');
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test(
  'https: the CA given to createDispatcher is trusted; without it TLS fails',
  { skip: !hasOpenssl() },
  async (t) => {
    const dir = t.testdir();
    const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(certFile);
    const server = https.createServer({ key: readFileSync(keyFile), cert }, (_req, res) => res.end(FEED));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const dispatcher = createDispatcher({ ca: cert });
    t.teardown(async () => {
      await dispatcher.close();
      server.closeAllConnections();
      server.close();
    });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/feed.json`;

    const trusted = await fetchConditional(url, {}, { ...fast, dispatcher });
    t.same(trusted.notModified === false && trusted.body, FEED);

    const retries: unknown[] = [];
    await t.rejects(fetchConditional(url, {}, { ...fast, onRetry: (i) => retries.push(i) }), {
      code: ErrorCodes.NETWORK,
      context: { url, retryable: false },
    });
    t.same(retries, [], 'an untrusted certificate is not retried');
  },
);

t.test('an abort signal stops the retries with PB_ERR_ABORTED', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}/feed.json`;
  const controller = new AbortController();
  const pending = fetchConditional(url, {}, { retries: 10, retryBaseMs: 5_000, signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  await t.rejects(pending, { code: ErrorCodes.ABORTED, context: { url } });
});

t.test('unsupported schemes are refused', async (t) => {
  await t.rejects(fetchConditional('ftp://127.0.0.1/feed.json', {}), { code: ErrorCodes.UNSUPPORTED_URL });
  await t.rejects(fetchConditional('not a url', {}), { code: ErrorCodes.UNSUPPORTED_URL });
});

t.test('backoff doubles, is capped and jittered; Retry-After parses both forms', async (t) => {
  t.equal(
    backoffDelay(1, 250, 10_000, () => 0),
    125,
  );
  t.equal(
    backoffDelay(1, 250, 10_000, () => 1),
    250,
  );
  t.equal(
    backoffDelay(3, 250, 10_000, () => 1),
    1000,
  );
  t.equal(
    backoffDelay(20, 250, 10_000, () => 1),
    10_000,
  );
  t.equal(parseRetryAfter('7'), 7000);
  t.ok((parseRetryAfter(new Date(Date.now() + 5000).toUTCString()) ?? 0) > 3000, 'an HTTP date');
  t.equal(parseRetryAfter('soon'), undefined);
});
