// The staging server attacked as a web page would, over real loopback HTTP: a cross-site
// text/plain or form POST, a DNS-rebinding Host, an evil Origin. And the callers that must
// keep working: curl and the CLI on this machine, hosts and admins by IP or DNS name.
import { request as httpRequest } from 'node:http';
import t, { type Test } from 'tap';
import type { AuthConfig, ServerConfig } from '@patchbay/core';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import {
  hostOfHeader,
  hostPolicy,
  isAllowedHost,
  isJsonMediaType,
  isSameOrigin,
} from '../src/auth/same-origin.js';
import { httpTestConfig, report, silentLogger } from './fixtures/http-harness.js';
import { TestMirror } from './fixtures/http-mirror.js';

const ADMIN = 'same-origin-admin-token-0123456789';

async function start(t: Test, opts: { auth?: AuthConfig; allowedHosts?: string[] } = {}) {
  const dir = t.testdir();
  const base = httpTestConfig(dir);
  const config = {
    ...base,
    listen: { ...base.listen, ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}) },
    ...(opts.auth ? { auth: opts.auth } : {}),
  } as ServerConfig;
  const mirror = new TestMirror(dir);
  const store = await ReportStore.open(dir);
  const app = await buildServer({ mirror, store, config, logger: silentLogger });
  const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  t.teardown(async () => {
    await app.close();
    await store.close();
  });
  return { mirror, port: Number(url.port) };
}

interface Answer {
  status: number;
  body: { statusCode?: number; error?: string; message?: string };
}

/** A request with exactly these headers (Host included), as a browser would send it. */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: Answer['body'] = {};
          try {
            parsed = JSON.parse(text) as Answer['body'];
          } catch {
            // not JSON (the status page): the status is what matters
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

t.test('no admin token, loopback trusted: a cross-site text/plain or form POST starts nothing', async (t) => {
  const s = await start(t);
  const evilPage = { origin: 'http://evil.example' };
  for (const [type, body] of [
    ['text/plain', '{"dryRun":false}'],
    ['application/x-www-form-urlencoded', 'dryRun=false'],
    ['multipart/form-data; boundary=x', '--x--'],
  ] as const) {
    // without an Origin too: the content type alone is refused
    const sync = await send(s.port, 'POST', '/v1/sync', { 'content-type': type }, body);
    t.equal(sync.status, 415, `POST /v1/sync ${type}`);
    t.match(sync.body.message, /Content-Type .* is not accepted here: admin requests take application\/json/);
    const gc = await send(s.port, 'POST', '/v1/gc', { 'content-type': type }, body);
    t.equal(gc.status, 415, `POST /v1/gc ${type}`);
    const withOrigin = await send(s.port, 'POST', '/v1/sync', { ...evilPage, 'content-type': type }, body);
    t.equal(withOrigin.status, 403, `POST /v1/sync ${type} from another site`);
  }
  // a no-cors fetch with no body at all still sends the page's Origin
  const bare = await send(s.port, 'POST', '/v1/sync', evilPage);
  t.equal(bare.status, 403);
  t.match(bare.body.message, /Origin "http:\/\/evil.example" is not this server/);
  t.equal(s.mirror.syncsStarted, 0, 'no sync started');
  t.same(s.mirror.gcRuns, [], 'no gc ran');

  // what an operator on this machine sends still works: curl -X POST, JSON, the same origin
  t.equal(
    (await send(s.port, 'POST', '/v1/gc', { 'content-type': 'application/json' }, '{"dryRun":true}')).status,
    200,
  );
  t.same(s.mirror.gcRuns, [{ dryRun: true }]);
  const own = { origin: `http://127.0.0.1:${s.port}` };
  t.equal((await send(s.port, 'POST', '/v1/sync', own)).status, 202, 'bodiless POST from its own origin');
  t.equal(s.mirror.syncsStarted, 1);
});

t.test('DNS rebinding: a foreign Host on a loopback-trusted route is 421', async (t) => {
  const s = await start(t);
  // The page at http://rebind.evil.example:PORT now resolves to 127.0.0.1: Origin and Host agree.
  const rebound = { host: `rebind.evil.example:${s.port}`, origin: `http://rebind.evil.example:${s.port}` };
  const sync = await send(
    s.port,
    'POST',
    '/v1/sync',
    { ...rebound, 'content-type': 'application/json' },
    '{}',
  );
  t.equal(sync.status, 421);
  t.equal(sync.body.error, 'Misdirected Request');
  t.match(sync.body.message, /Host "rebind\.evil\.example:\d+" is not a name this server answers to/);
  t.match(sync.body.message, /listen\.allowedHosts/);
  t.equal(s.mirror.syncsStarted, 0);
  // reading the fleet is refused too: the page could otherwise read it back
  for (const path of ['/v1/status', '/v1/clients', '/v1/reports/compliance', '/metrics'])
    t.equal((await send(s.port, 'GET', path, rebound)).status, 421, `GET ${path}`);

  // what hosts need answers any name: they verify what they read, and use whatever name they were given
  s.mirror.publish([]);
  t.equal((await send(s.port, 'GET', '/v1/catalog', rebound)).status, 200, 'catalog');
  t.equal((await send(s.port, 'GET', '/healthz', rebound)).status, 200, 'healthz');
  const put = await send(
    s.port,
    'PUT',
    '/v1/clients/host-a/report',
    { host: `patchbay.corp.example:${s.port}`, 'content-type': 'application/json' },
    JSON.stringify(report('host-a')),
  );
  t.equal(put.status, 200, 'a host reports through its own name for the server');

  // the names a loopback-trusted route answers to
  for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `[::1]:${s.port}`, 'app.localhost'])
    t.equal((await send(s.port, 'GET', '/v1/status', { host })).status, 200, host);
});

t.test('listen.allowedHosts: the names admins use, exact or a whole domain', async (t) => {
  const s = await start(t, { allowedHosts: ['patchbay.corp.example', '.lab.example'] });
  for (const host of ['patchbay.corp.example', 'PatchBay.Corp.Example.', 'lab.example', 'mirror.lab.example'])
    t.equal((await send(s.port, 'GET', '/v1/status', { host: `${host}:${s.port}` })).status, 200, host);
  for (const host of ['corp.example', 'evil-lab.example', 'lab.example.evil.example'])
    t.equal((await send(s.port, 'GET', '/v1/status', { host })).status, 421, host);
});

t.test('with an admin token the credential decides: any Host; Origin and JSON still checked', async (t) => {
  const s = await start(t, { auth: { adminToken: ADMIN, publicStatus: false } });
  const admin = { authorization: `Bearer ${ADMIN}`, host: `patchbay.corp.example:${s.port}` };
  t.equal((await send(s.port, 'GET', '/v1/status', admin)).status, 200, 'status by DNS name');
  t.equal((await send(s.port, 'POST', '/v1/sync', admin)).status, 202, 'sync by DNS name');
  s.mirror.finishSync();
  const evil = { ...admin, origin: 'http://evil.example' };
  t.equal((await send(s.port, 'POST', '/v1/gc', evil)).status, 403, 'cross-site, even with the token');
  t.equal((await send(s.port, 'POST', '/v1/gc', { ...admin, origin: 'null' })).status, 403, 'Origin: null');
  const plain = await send(s.port, 'POST', '/v1/gc', { ...admin, 'content-type': 'text/plain' }, '{}');
  t.equal(plain.status, 415);
  t.same(s.mirror.gcRuns, []);
  // the guard answers first: without the token the Host is never looked at
  t.equal((await send(s.port, 'GET', '/v1/status', { host: 'evil.example' })).status, 401);
});

t.test('the pure parts', async (t) => {
  t.equal(hostOfHeader('[::1]:8080'), '::1');
  t.equal(hostOfHeader('Example.ORG.'), 'example.org');
  t.equal(hostOfHeader('a.example/path'), null);
  t.equal(hostOfHeader('user@a.example'), null);
  t.equal(hostOfHeader(''), null);
  const policy = hostPolicy({ host: 'mirror.internal', allowedHosts: [] }, 'build-07');
  t.ok(isAllowedHost('mirror.internal:8080', policy), 'listen.host');
  t.ok(isAllowedHost('build-07', policy), "the machine's name");
  t.ok(isAllowedHost('10.1.2.3:8080', policy), 'any IP literal');
  t.ok(isAllowedHost(undefined, policy), 'no Host (HTTP/1.0): not a browser');
  t.notOk(isAllowedHost('build-07.evil.example', policy));
  t.notOk(isAllowedHost('a b', policy));
  t.ok(isSameOrigin('http://a.example', 'a.example:80'));
  t.ok(isSameOrigin('https://a.example:8443', 'A.example:8443'));
  t.notOk(isSameOrigin('http://a.example:8081', 'a.example:8080'));
  t.notOk(isSameOrigin('null', 'a.example'));
  t.notOk(isSameOrigin('http://a.example', undefined));
  t.ok(isJsonMediaType('application/json; charset=utf-8'));
  t.ok(isJsonMediaType('application/merge-patch+json'));
  t.notOk(isJsonMediaType('text/plain'));
  t.notOk(isJsonMediaType('text/json'));
});
