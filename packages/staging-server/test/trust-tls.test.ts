// listen.tls: the real CLI serves HTTPS with a certificate from a CA made at test time
// (openssl); a client that trusts only that CA connects, one that does not is refused.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { makeCertificates } from '../../../test/helpers/certs.js';
import { Agent, fetch } from 'undici';

const run = promisify(execFile);
const BIN = new URL('../bin/patchbay-server.js', import.meta.url).pathname;

t.test('listen.tls serves HTTPS verified by the test CA', async (t) => {
  const dir = t.testdir({ data: {} });
  const certs = await makeCertificates(dir);
  const { url, child } = await startTlsServe(t, dir, certs);
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const trusting = new Agent({ connect: { ca: await readFile(certs.ca, 'utf8') } });
  t.teardown(() => trusting.close());
  const res = await fetch(`${url}/healthz`, { dispatcher: trusting });
  t.equal(res.status, 200, 'a client trusting the test CA gets through');
  t.same(await res.json(), { status: 'ok' });

  const stranger = new Agent();
  t.teardown(() => stranger.close());
  await t.rejects(
    fetch(`${url}/healthz`, { dispatcher: stranger }),
    'a client not trusting the CA is refused',
  );

  await t.rejects(
    fetch(`${url.replace('https:', 'http:')}/healthz`, { dispatcher: trusting }),
    'plain HTTP is not served',
  );
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 0);
});

t.test('an unreadable listen.tls file stops serve with exit 2 naming it', async (t) => {
  const dir = t.testdir({ data: {} });
  const configFile = join(dir, 'server.json');
  const missing = join(dir, 'nope.pem');
  await writeFile(
    configFile,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0, tls: { cert: missing, key: missing } },
      dataDir: join(dir, 'data'),
      upstream: { url: 'http://127.0.0.1:9/' },
      schedule: { sync: null },
    }),
  );
  const result = await run(process.execPath, [BIN, '--config', configFile, 'serve']).catch(
    (err: unknown) => err,
  );
  t.match(result, { code: 2 });
  t.match((result as { stderr: string }).stderr, `listen.tls.cert: cannot read ${missing}`);
});

/** Start `serve` on listen.tls; resolves with its URL once it listens. */
async function startTlsServe(
  t: Test,
  dir: string,
  certs: { cert: string; key: string },
): Promise<{ url: string; port: number; child: ChildProcess }> {
  const configFile = join(dir, 'server.json');
  await writeFile(
    configFile,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0, tls: { cert: certs.cert, key: certs.key } },
      dataDir: join(dir, 'data'),
      // Nothing listens there: the start-up sync fails, the HTTP side still serves.
      upstream: { url: 'http://127.0.0.1:9/' },
      schedule: { sync: null },
    }),
  );
  const child = spawn(process.execPath, [BIN, '--config', configFile, '--json', 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  const { url } = JSON.parse(line) as { url: string };
  return { url, port: Number(new URL(url).port), child };
}

/** A raw TLS handshake with the server: the negotiated protocol and cipher, or the error. */
function handshake(
  port: number,
  ca: string,
  options: ConnectionOptions,
): Promise<{ protocol: string | null; cipher: string } | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, ...options }, () => {
      const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.once('error', (err) => {
      socket.destroy();
      resolve(err);
    });
  });
}

t.test('TLS 1.2 offers only ECDHE with AES-GCM or CHACHA20-POLY1305; TLS 1.3 still works', async (t) => {
  const dir = t.testdir({ data: {} });
  const certs = await makeCertificates(dir);
  const { port } = await startTlsServe(t, dir, certs);
  const ca = await readFile(certs.ca, 'utf8');
  const tls12 = { maxVersion: 'TLSv1.2' } as const;

  for (const cipher of ['AES128-SHA', 'AES256-SHA256', 'AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA']) {
    const refused = await handshake(port, ca, { ...tls12, ciphers: cipher });
    t.type(refused, Error, `${cipher} (CBC or static RSA) over TLS 1.2: the handshake fails`);
  }
  for (const cipher of [
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ]) {
    t.same(
      await handshake(port, ca, { ...tls12, ciphers: cipher }),
      { protocol: 'TLSv1.2', cipher },
      `${cipher} over TLS 1.2 is accepted`,
    );
  }
  t.type(
    await handshake(port, ca, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    Error,
    'TLS 1.1 is refused',
  );
  const modern = await handshake(port, ca, {});
  t.match(modern, { protocol: 'TLSv1.3' }, 'a default client gets TLS 1.3');
});

t.test('a listen.tls.key readable by group or others stops serve with exit 2', async (t) => {
  if (process.platform === 'win32') return t.skip('no mode bits on Windows');
  const dir = t.testdir({ data: {} });
  const certs = await makeCertificates(dir);
  await chmod(certs.key, 0o644);
  const configFile = join(dir, 'server.json');
  await writeFile(
    configFile,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0, tls: { cert: certs.cert, key: certs.key } },
      dataDir: join(dir, 'data'),
      upstream: { url: 'http://127.0.0.1:9/' },
      schedule: { sync: null },
    }),
  );
  const result = await run(process.execPath, [BIN, '--config', configFile, 'serve']).catch(
    (err: unknown) => err,
  );
  t.match(result, { code: 2 });
  const { stderr } = result as { stderr: string };
  t.match(stderr, `listen.tls.key: private key ${certs.key} is readable by group or others (mode 644)`);
  t.match(stderr, `chmod 600 ${certs.key}`);

  await chmod(certs.key, 0o600);
  const { url } = await startTlsServe(t, dir, certs);
  t.match(url, /^https:/, 'after chmod 600 it serves');
});
