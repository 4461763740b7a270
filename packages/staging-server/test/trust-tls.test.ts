// listen.tls: the real CLI serves HTTPS with a certificate from a CA made at test time
// (openssl); a client that trusts only that CA connects, one that does not is refused.
import { execFile, spawn } from 'node:child_process';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import t from 'tap';
import { makeCertificates } from '../../../test/helpers/certs.js';
import { Agent, fetch } from 'undici';

const run = promisify(execFile);
const BIN = new URL('../bin/patchbay-server.js', import.meta.url).pathname;

t.test('listen.tls serves HTTPS verified by the test CA', async (t) => {
  const dir = t.testdir({ data: {} });
  const certs = await makeCertificates(dir);
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
