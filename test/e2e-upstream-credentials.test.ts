// upstream.url with user:password@ (an upstream behind HTTP basic auth): the staging server
// sends them as basic auth and never shows them. A real server child process mirrors the TUF
// repository through a basic-auth front on loopback that fails in several ways — 503 at
// start, 404 for the patch files, a bad signature, 401, connection refused — and then the
// server's whole log output, /v1/status after each sync, the status page, /metrics and a
// notification mail (a real SMTP receiver) are searched for the password.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startSmtpSink } from './helpers/smtp.js';
import { startStack, type StatusDocument } from './helpers/stack.js';
import { waitFor } from './helpers/processes.js';

const USER = 'acct-7q2';
const PASSWORD = 'Pw-9f3kQx7-never-shown';

type Mode = 'no-target' | 'ok' | 'files-404' | 'bad-signature' | 'unauthorized';

/** Checks basic auth, then forwards to `target` — or fails as `mode` says. */
async function startFront(): Promise<{
  port: number;
  state: { mode: Mode; target: string | null; seenAuth: number };
  close: () => Promise<void>;
}> {
  const state = { mode: 'no-target' as Mode, target: null as string | null, seenAuth: 0 };
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected || state.mode === 'unauthorized') {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="vendor"' }).end('authorization required');
      return;
    }
    state.seenAuth++;
    if (state.mode === 'no-target' || state.target === null) {
      res.writeHead(503).end('not yet');
      return;
    }
    const path = req.url ?? '/';
    if (state.mode === 'files-404' && path.includes('/targets/')) {
      res.writeHead(404).end('no such file');
      return;
    }
    const upstream = http.get(new URL(path, state.target), (answer) => {
      if (state.mode === 'bad-signature' && path.endsWith('timestamp.json')) {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            signatures: { sig: string }[];
          };
          for (const s of doc.signatures) s.sig = s.sig.replace(/^./, (c) => (c === '0' ? '1' : '0'));
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
        });
        return;
      }
      const headers = { ...answer.headers };
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

t.test('the upstream password reaches no log, status, page, metric or mail', async (t) => {
  const front = await startFront();
  t.teardown(() => front.close());
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const stack = await startStack(t.testdir(), {
    upstreamExtra: { url: `http://${USER}:${PASSWORD}@127.0.0.1:${front.port}/`, retries: 0 },
    serverExtra: {
      notify: {
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false },
        from: 'patchbay@example.test',
        to: ['admins@example.test'],
        events: ['patch-available'],
        digest: 'off',
      },
    },
  });
  t.teardown(() => stack.stop());
  front.state.target = stack.upstream.url;

  const seen: string[] = [];
  const status = async (): Promise<StatusDocument> => {
    const doc = await stack.getJson<StatusDocument>('/v1/status');
    seen.push(JSON.stringify(doc));
    return doc;
  };
  const first = await status();
  t.equal(first.lastSync?.outcome, 'failed', 'at start: 503');
  t.match(first.lastSync?.error, /503/);
  t.equal(first.upstream.url, `http://127.0.0.1:${front.port}/`);

  front.state.mode = 'files-404';
  let sync = await stack.syncNow();
  t.not(sync.outcome, 'ok', 'the files are 404');
  t.ok(sync.heldBack.length > 0, 'patches held back');
  t.match(sync.heldBack[0]?.error, /404/, 'the held-back error says why');
  await status();

  front.state.mode = 'ok';
  sync = await stack.syncNow();
  t.equal(sync.outcome, 'ok', 'basic auth from the URL works');
  t.ok(front.state.seenAuth > 0);
  await status();
  await waitFor('a notification mail', async () => smtp.mails.length > 0);

  front.state.mode = 'bad-signature';
  sync = await stack.syncNow();
  t.equal(sync.outcome, 'failed', 'a bad timestamp signature');
  await status();

  front.state.mode = 'unauthorized';
  sync = await stack.syncNow();
  t.equal(sync.outcome, 'failed');
  t.match(sync.error, /401/, 'the 401 is named');
  t.match(
    sync.error,
    new RegExp(`http://127\\.0\\.0\\.1:${front.port}/`),
    'the URL is named, without credentials',
  );
  await status();

  await front.close();
  sync = await stack.syncNow();
  t.equal(sync.outcome, 'failed', 'connection refused');
  await status();

  const page = await fetch(`${stack.server.url}/`).then((r) => r.text());
  const metrics = await fetch(`${stack.server.url}/metrics`).then((r) => r.text());
  await stack.server.stop();
  const logs = stack.server.stderr();
  t.match(logs, /401|ECONNREFUSED|refused/i, 'the failures were logged');
  const mail = smtp.mails.map((m) => `${m.subject ?? ''}\n${m.text ?? ''}\n${String(m.html)}`).join('\n');
  const places: Record<string, string> = {
    'the log': logs,
    '/v1/status': seen.join('\n'),
    'the status page': page,
    '/metrics': metrics,
    'the mail': mail,
  };
  for (const [where, text] of Object.entries(places)) {
    t.ok(text.length > 0, `${where} was read`);
    t.notOk(text.includes(PASSWORD), `no password in ${where}`);
    t.notOk(text.includes(`${USER}:`), `no user:password in ${where}`);
  }
});
