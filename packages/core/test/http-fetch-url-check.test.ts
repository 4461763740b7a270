// checkUrl (UrlCheck): asked before the first URL and before every redirect hop, against real
// loopback servers. With it, redirects are followed one hop at a time by the request layer, so a
// refused hop is never requested; without it, the dispatcher follows them as before.
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { ContentStore } from '../src/content-store.js';
import { ErrorCodes, PatchbayError } from '../src/errors.js';
import { downloadBlob, fetchConditional } from '../src/http-fetch.js';
import { startFaultServer } from './fixtures/fault-server.js';

const fast = { retries: 3, retryBaseMs: 10, stallTimeoutMs: 2000 };
const BODY = Buffer.from('the real bytes\n');
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function redirect(location: string, status = 302) {
  return { kind: 'status' as const, status, headers: { location } };
}

/** A check that records every call and refuses URLs on `refusedOrigin`. */
function recordingCheck(refusedOrigin?: string) {
  const calls: [string, string | undefined][] = [];
  const check = (url: URL, from?: URL): void => {
    calls.push([url.href, from?.href]);
    if (url.origin === refusedOrigin) {
      throw new PatchbayError(ErrorCodes.URL_REFUSED, `${url.href} refused`, { url: url.href });
    }
  };
  return { calls, check };
}

t.test('without a check the dispatcher follows redirects as before', async (t) => {
  const server = await startFaultServer({ '/b': { body: BODY } });
  t.teardown(server.close);
  server.always('/a', redirect('/b'));
  const result = await fetchConditional(server.url('/a'), {}, fast);
  t.same(result.notModified ? null : result.body, BODY);
});

t.test('every hop is put to the check, in order, and followed when it passes', async (t) => {
  const a = await startFaultServer();
  const b = await startFaultServer({ '/final': { body: BODY } });
  t.teardown(a.close);
  t.teardown(b.close);
  a.always('/start', redirect('/middle', 301));
  a.always('/middle', redirect(b.url('/final'), 307));
  const { calls, check } = recordingCheck();
  const result = await fetchConditional(a.url('/start'), {}, { ...fast, checkUrl: check });
  t.same(result.notModified ? null : result.body, BODY);
  t.same(calls, [
    [a.url('/start'), undefined],
    [a.url('/middle'), a.url('/start')],
    [b.url('/final'), a.url('/middle')],
  ]);
});

t.test('a refused hop is never requested, and the refusal is not retried', async (t) => {
  const a = await startFaultServer();
  const b = await startFaultServer({ '/x': { body: BODY } });
  t.teardown(a.close);
  t.teardown(b.close);
  a.always('/x', redirect(b.url('/x')));
  const { check } = recordingCheck(b.origin);
  await t.rejects(fetchConditional(a.url('/x'), {}, { ...fast, checkUrl: check }), {
    code: ErrorCodes.URL_REFUSED,
    message: `${b.url('/x')} refused`,
  });
  t.equal(a.requests.length, 1, 'asked once: a refusal is final');
  t.same(b.requests, [], 'the refused origin was never asked');

  await t.test('nor is a refused first URL', async (t) => {
    await t.rejects(fetchConditional(b.url('/x'), {}, { ...fast, checkUrl: check }), {
      code: ErrorCodes.URL_REFUSED,
    });
    t.same(b.requests, []);
  });
});

t.test('a refused download hop stores nothing and leaves no partial', async (t) => {
  const dir = t.testdir({});
  const store = new ContentStore(join(dir, 'store'));
  const a = await startFaultServer();
  const b = await startFaultServer({ '/blob': { body: BODY } });
  t.teardown(a.close);
  t.teardown(b.close);
  a.always('/blob', redirect(b.url('/blob')));
  const { check } = recordingCheck(b.origin);
  await t.rejects(
    downloadBlob(
      { url: a.url('/blob'), sha256: sha256(BODY), size: BODY.length, store },
      { ...fast, checkUrl: check },
    ),
    { code: ErrorCodes.URL_REFUSED },
  );
  t.same(b.requests, []);
  t.equal(await store.has(sha256(BODY)), false);
  t.same(await readdir(store.tmpDir).catch(() => []), [], 'no partial');
});

t.test('file: URLs are put to the check before they are opened', async (t) => {
  const dir = t.testdir({ 'secret.txt': 'secret' });
  const url = pathToFileURL(join(dir, 'secret.txt')).href;
  const seen: string[] = [];
  const check = (u: URL): void => {
    seen.push(u.href);
    throw new PatchbayError(ErrorCodes.URL_REFUSED, 'no', {});
  };
  await t.rejects(fetchConditional(url, {}, { ...fast, checkUrl: check }), { code: ErrorCodes.URL_REFUSED });
  t.same(seen, [url]);
});

t.test('credentials stay on their origin; redirects stop after 5 hops', async (t) => {
  const a = await startFaultServer({ '/same': { body: BODY } });
  const b = await startFaultServer({ '/other': { body: BODY } });
  t.teardown(a.close);
  t.teardown(b.close);
  a.always('/to-same', redirect('/same'));
  a.always('/to-other', redirect(b.url('/other')));
  const opts = { ...fast, checkUrl: () => undefined, headers: { authorization: 'Bearer t0ken' } };
  await fetchConditional(a.url('/to-same'), {}, opts);
  t.equal(a.requestsFor('/same')[0]?.headers.authorization, 'Bearer t0ken', 'kept on the same origin');
  await fetchConditional(a.url('/to-other'), {}, opts);
  t.equal(b.requestsFor('/other')[0]?.headers.authorization, undefined, 'dropped for another origin');

  a.always('/loop', redirect('/loop'));
  await t.rejects(fetchConditional(a.url('/loop'), {}, opts), {
    code: ErrorCodes.HTTP_STATUS,
    context: { status: 302 },
  });
  t.equal(a.requestsFor('/loop').length, 6, 'the first request and 5 redirects');
});

t.test(
  'a redirect to a scheme other than http(s) is not followed even when the check allows it',
  async (t) => {
    const a = await startFaultServer();
    t.teardown(a.close);
    a.always('/x', redirect('file:///etc/passwd'));
    await t.rejects(fetchConditional(a.url('/x'), {}, { ...fast, checkUrl: () => undefined }), {
      code: ErrorCodes.UNSUPPORTED_URL,
    });
  },
);
