// The origin policy's rules one by one (pure functions), and the realpath half (url-guard).
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { ErrorCodes, isInside } from '@patchbay/core';
import { checkFileUrl, checkRedirect, originPolicy, refusalError } from '../src/upstream/origin-policy.js';
import { checkUrlFully, urlGuard } from '../src/upstream/url-guard.js';

const HTTPS_FEED = 'https://vendor.example/feed/feed.json';

function reason(url: string, policy = originPolicy(HTTPS_FEED)): string | null {
  return checkFileUrl(url, policy)?.reason ?? null;
}

t.test('a policy: the feed origin, or the feed directory, and the allowed origins normalised', async (t) => {
  t.same(originPolicy('http://127.0.0.1:8080/v1/catalog', ['HTTPS://CDN.example:443/', 'not an origin']), {
    feedUrl: 'http://127.0.0.1:8080/v1/catalog',
    feedOrigin: 'http://127.0.0.1:8080',
    feedDir: null,
    allowedOrigins: ['https://cdn.example'],
    dirLabel: 'feed directory',
  });
  const file = originPolicy('file:///srv/feed/feed.json');
  t.equal(file.feedOrigin, null);
  t.equal(file.feedDir, '/srv/feed');
  t.same(originPolicy(HTTPS_FEED, undefined).allowedOrigins, []);
});

t.test('http(s): the feed origin and allowed origins only', async (t) => {
  t.equal(reason('https://vendor.example/elsewhere/x.bin'), null, 'any path on the feed origin');
  t.equal(reason('https://vendor.example:443/x.bin'), null, 'the default port is the same origin');
  t.equal(reason('https://vendor.example:8443/x.bin'), 'origin', 'another port is another origin');
  t.equal(reason('http://vendor.example/x.bin'), 'origin', 'another scheme is another origin');
  t.equal(reason('https://evil.example/x.bin'), 'origin');
  t.equal(reason('https://vendor.example.evil.example/x.bin'), 'origin');
  t.equal(reason('https://user:pw@vendor.example/x.bin'), null, 'credentials do not change the origin');
  const cdn = originPolicy(HTTPS_FEED, ['https://cdn.vendor.example']);
  t.equal(reason('https://cdn.vendor.example/x.bin', cdn), null);
  t.equal(reason('http://cdn.vendor.example/x.bin', cdn), 'origin');
  t.equal(
    checkFileUrl('https://evil.example/x', originPolicy(HTTPS_FEED))?.message,
    "https://evil.example/x is not the feed's origin https://vendor.example or in upstream.allowedOrigins",
  );
  t.equal(reason('javascript:alert(1)'), 'scheme');
  t.equal(reason('ftp://vendor.example/x'), 'scheme');
  t.equal(reason('not a url'), 'invalid');
});

t.test('file:: only for a file: feed, only inside its directory', async (t) => {
  t.equal(reason('file:///etc/passwd'), 'file-scheme', 'never from an http(s) feed');
  t.match(checkFileUrl('file:///etc/passwd', originPolicy(HTTPS_FEED))?.message, /only for a file: feed/);
  const feed = originPolicy('file:///srv/feed/feed.json');
  t.equal(reason('file:///srv/feed/files/a.sh', feed), null);
  t.equal(reason('file:///srv/feed/files/../files/a.sh', feed), null, 'dots that stay inside');
  t.equal(reason('file:///srv/feed/../secret', feed), 'outside');
  t.equal(reason('file:///srv/feed/%2e%2e/secret', feed), 'outside', 'encoded dots too');
  t.equal(reason('file:///srv/feed2/x.sh', feed), 'outside', 'a sibling sharing the prefix');
  t.equal(reason('file:///srv/feed', feed), 'outside', 'the directory itself');
  t.equal(reason('file:///srv/feed/', feed), 'outside');
  t.equal(reason('file:///srv/feed/a%2Fb', feed), 'invalid', 'an encoded slash names no path');
  t.equal(reason('file://evil.example/share/x', feed), 'invalid', 'a remote host is no local path');
  t.equal(
    checkFileUrl('file:///etc/passwd', feed)?.message,
    'file url file:///etc/passwd is outside the feed directory /srv/feed',
  );
  t.equal(reason('https://cdn.example/x', feed), 'origin', 'http(s) from a file: feed: allowed origins only');
  t.equal(reason('https://cdn.example/x', originPolicy(feed.feedUrl, ['https://cdn.example'])), null);
  // the containment the policy decides with (core's isInside: parent first)
  t.ok(isInside('/a/b', '/a/b/c'));
  t.notOk(isInside('/a/b', '/a/bc'));
  t.notOk(isInside('/a/b', '/a'));
});

t.test('redirects: same scheme, and the target must pass', async (t) => {
  const policy = originPolicy(HTTPS_FEED, ['https://cdn.vendor.example', 'http://plain.example']);
  const from = new URL('https://vendor.example/x');
  t.equal(checkRedirect(from, new URL('https://vendor.example/y'), policy), null);
  t.equal(checkRedirect(from, new URL('https://cdn.vendor.example/y'), policy), null);
  const toHttp = checkRedirect(from, new URL('http://plain.example/y'), policy);
  t.equal(toHttp?.reason, 'redirect-scheme', 'not to another scheme, even an allowed origin');
  t.equal(
    toHttp?.message,
    'redirect from https://vendor.example/x to http://plain.example/y refused: a redirect may not change the scheme (https: to http:)',
  );
  t.equal(checkRedirect(from, new URL('file:///etc/passwd'), policy)?.reason, 'redirect-scheme');
  const away = checkRedirect(from, new URL('https://evil.example/y'), policy);
  t.equal(away?.reason, 'origin');
  t.equal(away?.redirectedFrom, 'https://vendor.example/x');
  t.match(away?.message, /^redirect from https:\/\/vendor.example\/x to https:\/\/evil.example\/y refused: /);
});

t.test('a refusal is PB_ERR_URL_REFUSED with its facts in the context', async (t) => {
  const policy = originPolicy(HTTPS_FEED);
  const refusal = checkRedirect(
    new URL('https://vendor.example/x'),
    new URL('https://evil.example/x'),
    policy,
  );
  const err = refusalError(refusal!, policy);
  t.equal(err.code, ErrorCodes.URL_REFUSED);
  t.same(err.context, {
    url: 'https://evil.example/x',
    reason: 'origin',
    redirectedFrom: 'https://vendor.example/x',
    feedUrl: HTTPS_FEED,
  });
});

t.test('symlinks: where a file url really leads', async (t) => {
  const root = t.testdir({ feed: { files: { 'a.sh': 'a' } }, 'secret.txt': 'secret', outside: {} });
  const feedDir = join(root, 'feed');
  await symlink(join(root, 'secret.txt'), join(feedDir, 'files', 'out.sh'));
  await symlink(join(feedDir, 'files', 'a.sh'), join(feedDir, 'files', 'in.sh'));
  await symlink(join(root, 'outside'), join(feedDir, 'linked-dir'));
  await writeFile(join(root, 'outside', 'x.sh'), 'x');
  await mkdir(join(root, 'real-feed'));
  await writeFile(join(root, 'real-feed', 'b.sh'), 'b');
  await symlink(join(root, 'real-feed'), join(root, 'feed-link'));
  const policy = originPolicy(pathToFileURL(join(feedDir, 'feed.json')).href);
  const url = (path: string) => new URL(pathToFileURL(path).href);

  t.equal(await checkUrlFully(url(join(feedDir, 'files', 'a.sh')), policy), null);
  t.equal(
    await checkUrlFully(url(join(feedDir, 'files', 'in.sh')), policy),
    null,
    'a link that stays inside',
  );
  t.equal(
    await checkUrlFully(url(join(feedDir, 'files', 'nothing-here.sh')), policy),
    null,
    'nothing to read',
  );
  const out = await checkUrlFully(url(join(feedDir, 'files', 'out.sh')), policy);
  t.equal(out?.reason, 'symlink');
  t.equal(
    out?.message,
    `file url ${url(join(feedDir, 'files', 'out.sh')).href} is outside the feed directory ${feedDir}: a symlink leads out of it`,
  );
  t.notOk(out?.message.includes('secret.txt'), 'where the link leads is not told');
  t.equal((await checkUrlFully(url(join(feedDir, 'linked-dir', 'x.sh')), policy))?.reason, 'symlink');
  const viaLink = originPolicy(pathToFileURL(join(root, 'feed-link', 'feed.json')).href);
  t.equal(
    await checkUrlFully(url(join(root, 'feed-link', 'b.sh')), viaLink),
    null,
    'a feed directory that is itself a link is resolved too',
  );

  const guard = urlGuard(policy);
  await t.resolves(guard(url(join(feedDir, 'files', 'a.sh'))));
  await t.rejects(guard(url(join(feedDir, 'files', 'out.sh'))), { code: ErrorCodes.URL_REFUSED });
  await t.rejects(guard(url(join(root, 'secret.txt'))), { code: ErrorCodes.URL_REFUSED });
  await t.rejects(guard(new URL('http://127.0.0.1:1/x'), url(join(feedDir, 'files', 'a.sh'))), {
    code: ErrorCodes.URL_REFUSED,
    context: { reason: 'redirect-scheme' },
  });
});
