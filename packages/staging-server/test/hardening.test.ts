// HTTP hardening over real loopback HTTP: per-host rate limit, security headers,
// request timeouts, secrets kept out of logs and out of /v1/status.
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { pino, type Logger } from 'pino';
import type { AuthConfig, ServerConfig } from '@patchbay/core';
import { SqliteTokenStore } from '../src/auth/sqlite-token-store.js';
import { ReportStore } from '../src/reports/report-store.js';
import { buildServer } from '../src/server.js';
import { httpTestConfig, report, silentLogger } from './fixtures/http-harness.js';
import { TestMirror } from './fixtures/http-mirror.js';

const ADMIN = 'admin-secret-fedcba9876543210';

interface Options {
  auth?: AuthConfig;
  reports?: Partial<ServerConfig['reports']>;
  listen?: Partial<ServerConfig['listen']>;
  more?: Partial<ServerConfig>;
  logger?: Logger;
}

async function start(t: Test, opts: Options = {}) {
  const dir = t.testdir();
  const base = httpTestConfig(dir, opts.reports);
  const config = {
    ...base,
    ...opts.more,
    listen: { ...base.listen, ...opts.listen },
    ...(opts.auth ? { auth: opts.auth } : {}),
  } as ServerConfig;
  const mirror = new TestMirror(dir);
  const store = await ReportStore.open(dir);
  const tokens = SqliteTokenStore.open(dir);
  const app = await buildServer({ mirror, store, config, logger: opts.logger ?? silentLogger });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await store.close();
    await tokens.close();
  });
  return { app, base: url, tokens };
}

function put(base: string, hostId: string, token?: string): Promise<Response> {
  return fetch(`${base}/v1/clients/${hostId}/report`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(report(hostId)),
  });
}

/** A logger at `level` whose lines land in `lines`. */
function capturedLog(level: string): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: pino({ level }, sink) };
}

t.test('rate limit: 429 after N reports of one host, another host unaffected', async (t) => {
  const s = await start(t, { reports: { rateLimitPerMinute: 3 } });
  for (let i = 0; i < 3; i++) t.equal((await put(s.base, 'host-a')).status, 200, `report ${i + 1}`);
  const limited = await put(s.base, 'host-a');
  t.equal(limited.status, 429);
  t.ok(limited.headers.get('retry-after'), 'Retry-After is set');
  const body = (await limited.json()) as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ['error', 'message', 'statusCode']);
  t.equal(body.statusCode, 429);
  t.equal(body.error, 'Too Many Requests');
  t.match(body.message, /host "host-a" reports/);
  t.equal((await put(s.base, 'host-b')).status, 200, 'host-b has its own budget');
  t.equal((await fetch(`${s.base}/v1/status`)).status, 200, 'other routes are not limited');
});

t.test("rate limit counts only authenticated reports in 'required' mode", async (t) => {
  const s = await start(t, { reports: { rateLimitPerMinute: 2 }, auth: { reportTokens: 'required' } });
  const token = await s.tokens.enroll('host-a');
  // An attacker without the token cannot spend host-a's budget.
  for (let i = 0; i < 5; i++) t.equal((await put(s.base, 'host-a')).status, 401);
  t.equal((await put(s.base, 'host-a', token)).status, 200);
  t.equal((await put(s.base, 'host-a', token)).status, 200);
  t.equal((await put(s.base, 'host-a', token)).status, 429);
});

t.test('security headers on answers and errors; no HSTS without TLS', async (t) => {
  const s = await start(t, { auth: { adminToken: ADMIN, publicStatus: false } });
  for (const [path, status] of [
    ['/healthz', 200],
    ['/v1/status', 401],
    ['/v1/nope', 404],
    [`/v1/blobs/sha256/${'0'.repeat(64)}`, 404],
  ] as const) {
    const res = await fetch(`${s.base}${path}`);
    t.equal(res.status, status, path);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path} nosniff`);
    t.match(res.headers.get('content-security-policy'), /default-src 'none'/, `${path} CSP`);
    t.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.ok(res.headers.get('x-frame-options'), `${path} x-frame-options`);
    t.equal(res.headers.get('strict-transport-security'), null, `${path} no HSTS over HTTP`);
    t.equal(res.headers.get('x-powered-by'), null);
  }
  // JSON and CSV still arrive as such under the CSP.
  const csv = await fetch(`${s.base}/v1/clients`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(csv.status, 200);
  t.match(csv.headers.get('content-type'), /application\/json/);
});

t.test('a client that sends half a request is cut off after listen.requestTimeoutSeconds', async (t) => {
  const s = await start(t, { listen: { requestTimeoutSeconds: 1 } });
  const { port } = new URL(s.base);
  const started = Date.now();
  const closed = await new Promise<boolean>((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write('PUT /v1/clients/host-a/report HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
    });
    const guard = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 10_000);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => t.comment(d.toString().split('\r\n')[0]));
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(true);
    });
  });
  t.ok(closed, 'the server closed the connection');
  t.ok(Date.now() - started < 8_000, `within the timeout (took ${Date.now() - started} ms)`);
});

t.test('tokens and secrets never reach the logs', async (t) => {
  const { lines, logger } = capturedLog('trace');
  const s = await start(t, {
    auth: { adminToken: ADMIN, reportTokens: 'required', publicStatus: false },
    logger,
  });
  const token = await s.tokens.enroll('host-a');
  const other = await s.tokens.enroll('host-b');
  t.equal((await put(s.base, 'host-a', token)).status, 200);
  t.equal((await put(s.base, 'host-a', other)).status, 403);
  t.equal((await put(s.base, 'host-a', `${token}x`)).status, 401);
  t.equal(
    (await fetch(`${s.base}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).status,
    200,
  );
  t.equal(
    (await fetch(`${s.base}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}-wrong` } })).status,
    401,
  );
  // Anything that logs headers or a config through the app's logger is censored.
  s.app.log.info(
    {
      headers: { authorization: `Bearer ${token}`, cookie: 'sid=cookie-secret' },
      config: { auth: { adminToken: ADMIN }, notify: { smtp: { auth: { user: 'u', pass: 'smtp-secret' } } } },
      token: other,
    },
    'a careless log line',
  );
  await new Promise((resolve) => setImmediate(resolve));
  const log = lines.join('');
  t.match(log, /request completed/, 'requests were logged');
  t.match(log, /a careless log line/);
  t.match(log, /\[redacted\]/);
  for (const secret of [token, other, ADMIN, 'smtp-secret', 'cookie-secret', token.slice(4)])
    t.notOk(log.includes(secret), `"${secret.slice(0, 8)}…" is not in the log`);
});

t.test("a polling host's routine answers are logged at debug, anything else at info", async (t) => {
  const { lines, logger } = capturedLog('info');
  const s = await start(t, { auth: { reportTokens: 'required' }, logger });
  const token = await s.tokens.enroll('host-a');
  t.equal((await put(s.base, 'host-a', token)).status, 200);
  t.equal((await put(s.base, 'host-a', `${token}x`)).status, 401);
  // no TUF repository here: the next-root probe's 404 is routine, timestamp.json's is not
  t.equal((await fetch(`${s.base}/v1/tuf/metadata/2.root.json`)).status, 404);
  t.equal((await fetch(`${s.base}/v1/tuf/metadata/timestamp.json`)).status, 404);
  await new Promise((resolve) => setImmediate(resolve));
  const answers = lines
    .map((line) => JSON.parse(line) as { msg: string; req?: { url: string }; res?: { statusCode: number } })
    .filter((line) => line.msg === 'request completed')
    .map((line) => `${line.req?.url} ${line.res?.statusCode}`);
  t.same(answers, ['/v1/clients/host-a/report 401', '/v1/tuf/metadata/timestamp.json 404']);
  t.notMatch(lines.join(''), /2\.root\.json/, 'nor a "request refused" line for the probe');
});

t.test('/v1/status never shows the admin token, the SMTP password, tokens or URL passwords', async (t) => {
  const s = await start(t, {
    auth: { adminToken: ADMIN, publicStatus: false },
    more: {
      notify: {
        smtp: {
          host: '127.0.0.1',
          port: 2525,
          secure: false,
          auth: { user: 'mailer', pass: 'smtp-pass-123' },
        },
        from: 'patchbay@example.invalid',
        to: ['ops@example.invalid'],
      },
    } as Partial<ServerConfig>,
  });
  const token = await s.tokens.enroll('host-a');
  const res = await fetch(`${s.base}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(res.status, 200);
  const text = await res.text();
  for (const secret of [ADMIN, 'smtp-pass-123', token, 's3cret', 'pbt_'])
    t.notOk(text.includes(secret), `status does not contain "${secret.slice(0, 8)}"`);
});
