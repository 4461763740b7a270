// Report tokens and the admin token over real HTTP on loopback (CONTRACT §5).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { AuthConfig, ServerConfig } from '@patchbay/core';
import { SqliteTokenStore } from '../src/auth/sqlite-token-store.js';
import { hashToken, type TokenStore } from '../src/auth/token-store.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { httpTestConfig, report, silentLogger } from './fixtures/http-harness.js';
import { TestMirror } from './fixtures/http-mirror.js';

const ADMIN = 'admin-secret-0123456789abcdef';

interface AuthServer {
  base: string;
  tokens: TokenStore;
  mirror: TestMirror;
  dir: string;
}

async function startServer(t: Test, auth: AuthConfig, dir = t.testdir()): Promise<AuthServer> {
  const config: ServerConfig = { ...httpTestConfig(dir), auth };
  const mirror = new TestMirror(dir);
  const store = await ReportStore.open(dir);
  // The server opens its own connection to auth.sqlite; this one plays the CLI.
  const tokens = SqliteTokenStore.open(dir);
  const app = await buildServer({ mirror, store, config, logger: silentLogger });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await store.close();
    await tokens.close();
  });
  return { base, tokens, mirror, dir };
}

function put(base: string, hostId: string, token?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return fetch(`${base}/v1/clients/${hostId}/report`, {
    method: 'PUT',
    headers,
    body: JSON.stringify(report(hostId)),
  });
}

async function expectError(t: Test, res: Response, status: number, message: RegExp): Promise<void> {
  t.equal(res.status, status);
  const body = (await res.json()) as { statusCode: number; error: string; message: string };
  t.equal(body.statusCode, status);
  t.type(body.error, 'string');
  t.match(body.message, message);
  if (status === 401) t.match(res.headers.get('www-authenticate'), /^Bearer\b/);
}

t.test('enroll issues a pbt_ token and auth.sqlite holds only its hash', async (t) => {
  const dir = t.testdir();
  const store = SqliteTokenStore.open(dir);
  const token = await store.enroll('prod-db-01');
  t.match(token, /^pbt_[A-Za-z0-9_-]{43}$/);
  t.not(await store.enroll('prod-db-02'), token, 'every token is fresh');
  await store.close();
  let bytes = Buffer.alloc(0);
  for (const name of await readdir(dir))
    if (name.startsWith('auth.sqlite')) bytes = Buffer.concat([bytes, await readFile(join(dir, name))]);
  t.ok(bytes.length > 0);
  t.notOk(bytes.includes(token), 'the token itself is not in the file');
  t.notOk(bytes.includes(token.slice(4)), 'nor its random part');
  t.ok(bytes.includes(hashToken(token)), 'its SHA-256 is');
});

t.test("reportTokens 'required': none 401, wrong 401, another host's 403, revoked 401", async (t) => {
  const s = await startServer(t, { reportTokens: 'required' });
  const own = await s.tokens.enroll('host-a');
  const other = await s.tokens.enroll('host-b');

  await expectError(t, await put(s.base, 'host-a'), 401, /needs its host's token/);
  await expectError(
    t,
    await put(s.base, 'host-a', 'pbt_' + 'x'.repeat(43)),
    401,
    /not this host's current token/,
  );
  await expectError(t, await put(s.base, 'host-a', 'garbage'), 401, /not this host's current token/);
  await expectError(t, await put(s.base, 'host-a', other), 403, /only as itself/);
  await expectError(t, await put(s.base, 'host-unknown', own), 403, /only as itself/);

  const ok = await put(s.base, 'host-a', own);
  t.equal(ok.status, 200);
  t.same(await ok.json(), { accepted: 0 });

  t.equal(await s.tokens.revoke('host-a'), true);
  await expectError(t, await put(s.base, 'host-a', own), 401, /revoked/);
  t.equal(await s.tokens.revoke('host-a'), false, 'a second revoke finds nothing live');
  t.equal((await put(s.base, 'host-b', other)).status, 200, 'other hosts are unaffected');
});

t.test("reportTokens 'optional': no token accepted, a sent token is still checked", async (t) => {
  const s = await startServer(t, { reportTokens: 'optional' });
  const own = await s.tokens.enroll('host-a');
  const other = await s.tokens.enroll('host-b');
  t.equal((await put(s.base, 'host-a')).status, 200);
  t.equal((await put(s.base, 'host-a', own)).status, 200);
  await expectError(t, await put(s.base, 'host-a', 'pbt_' + 'y'.repeat(43)), 401, /not this host's/);
  await expectError(t, await put(s.base, 'host-a', other), 403, /only as itself/);
});

t.test('enrolling again replaces the token: the old one stops working at once', async (t) => {
  const s = await startServer(t, { reportTokens: 'required' });
  const first = await s.tokens.enroll('host-a');
  t.equal((await put(s.base, 'host-a', first)).status, 200);
  const second = await s.tokens.enroll('host-a');
  await expectError(t, await put(s.base, 'host-a', first), 401, /not this host's current token/);
  t.equal((await put(s.base, 'host-a', second)).status, 200);
  // A revoked host enrolled again is live again.
  await s.tokens.revoke('host-a');
  const third = await s.tokens.enroll('host-a');
  t.equal((await put(s.base, 'host-a', third)).status, 200);
});

t.test('admin token on POST /v1/sync; publicStatus false guards status and reports', async (t) => {
  const s = await startServer(t, { adminToken: ADMIN, publicStatus: false, reportTokens: 'optional' });
  const admin = { authorization: `Bearer ${ADMIN}` };

  await expectError(t, await fetch(`${s.base}/v1/sync`, { method: 'POST' }), 401, /admin token/);
  await expectError(
    t,
    await fetch(`${s.base}/v1/sync`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}x` } }),
    401,
    /not the admin token/,
  );
  t.equal(s.mirror.syncsStarted, 0, 'a refused request starts nothing');
  const started = await fetch(`${s.base}/v1/sync`, { method: 'POST', headers: admin });
  t.equal(started.status, 202);
  t.equal(s.mirror.syncsStarted, 1);

  for (const path of [
    '/v1/status',
    '/v1/clients',
    '/v1/clients/host-a',
    '/v1/reports/compliance',
    '/v1/reports/history?format=csv',
  ]) {
    await expectError(t, await fetch(`${s.base}${path}`), 401, /admin token/);
  }
  t.equal((await fetch(`${s.base}/v1/status`, { headers: admin })).status, 200);
  t.equal((await fetch(`${s.base}/v1/clients`, { headers: admin })).status, 200);
  const hostToken = await s.tokens.enroll('host-a');
  await expectError(
    t,
    await fetch(`${s.base}/v1/status`, { headers: { authorization: `Bearer ${hostToken}` } }),
    401,
    /not the admin token/,
  );

  // What clients need stays open.
  t.equal((await fetch(`${s.base}/healthz`)).status, 200);
  t.equal((await fetch(`${s.base}/readyz`)).status, 503, 'open, just not ready');
  t.equal((await fetch(`${s.base}/v1/catalog`)).status, 503, 'open, nothing published yet');
  t.equal((await fetch(`${s.base}/v1/blobs/sha256/${'0'.repeat(64)}`)).status, 404);
});

t.test('publicStatus true: status and reports open, sync still needs the admin token', async (t) => {
  const s = await startServer(t, { adminToken: ADMIN, publicStatus: true });
  t.equal((await fetch(`${s.base}/v1/status`)).status, 200);
  t.equal((await fetch(`${s.base}/v1/clients`)).status, 200);
  await expectError(t, await fetch(`${s.base}/v1/sync`, { method: 'POST' }), 401, /admin token/);
});

t.test('no admin token configured: admin routes answer loopback clients', async (t) => {
  const s = await startServer(t, { publicStatus: false });
  t.equal((await fetch(`${s.base}/v1/sync`, { method: 'POST' })).status, 202);
  t.equal((await fetch(`${s.base}/v1/status`)).status, 200);
});

t.test('an adminTokenFile is read at start; a short admin token is refused', async (t) => {
  const dir = t.testdir({ 'admin.token': `${ADMIN}\n` });
  const s = await startServer(t, { adminTokenFile: join(dir, 'admin.token'), publicStatus: false }, dir);
  t.equal((await fetch(`${s.base}/v1/status`)).status, 401);
  t.equal(
    (await fetch(`${s.base}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).status,
    200,
  );

  const mirror = new TestMirror(dir);
  const store = await ReportStore.open(dir);
  t.teardown(() => store.close());
  await t.rejects(
    buildServer({
      mirror,
      store,
      config: { ...httpTestConfig(dir), auth: { adminToken: 'short' } },
      logger: silentLogger,
    }),
    { code: 'PB_ERR_CONFIG', message: /at least 16 characters/ },
  );
  await t.rejects(
    buildServer({
      mirror,
      store,
      config: { ...httpTestConfig(dir), auth: { adminTokenFile: join(dir, 'missing') } },
      logger: silentLogger,
    }),
    { code: 'PB_ERR_CONFIG', message: /cannot be read/ },
  );
});

t.test('a hostId path parameter outside the pattern is 400 on every route, before auth', async (t) => {
  const s = await startServer(t, { reportTokens: 'required', publicStatus: true });
  // ('..' itself never arrives: the client's URL parser resolves it away.)
  for (const bad of ['.hidden', '-x', 'a%20b', '%2e%2e%2f%2e%2e%2fetc', 'a'.repeat(254)]) {
    const res = await fetch(`${s.base}/v1/clients/${bad}/report`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    t.equal(res.status, 400, `PUT ${bad.slice(0, 20)}`);
    const get = await fetch(`${s.base}/v1/clients/${bad}`);
    t.equal(get.status, 400, `GET ${bad.slice(0, 20)}`);
  }
  // The longest hostId the pattern allows reaches the route (no token: 401).
  t.equal((await put(s.base, 'a'.repeat(253))).status, 401);
});
