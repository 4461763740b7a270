// enroll / revoke as child processes of the built program while `serve` runs on the same
// data directory (run `npx tsc -b packages/staging-server` first).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { run, startServe } from './fixtures/server-cli.js';
import { report } from './fixtures/http-harness.js';

async function writeConfig(dir: string): Promise<string> {
  const feedDir = join(dir, 'feed');
  const feed = {
    format: 'patchbay-feed/1',
    vendor: 'Test',
    sequence: 1,
    generatedAt: '2026-11-20T08:00:00Z',
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
    patches: [],
  };
  const { mkdir } = await import('node:fs/promises');
  await mkdir(feedDir, { recursive: true });
  await writeFile(join(feedDir, 'feed.json'), JSON.stringify(feed));
  const file = join(dir, 'server.json');
  await writeFile(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: join(dir, 'data'),
      upstream: { url: pathToFileURL(feedDir + '/').href },
      schedule: { sync: null, prune: null },
      auth: { reportTokens: 'required' },
      log: { level: 'warn' },
    }),
  );
  return file;
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

t.test('enroll and revoke take effect on a running server at the next request', async (t) => {
  const dir = t.testdir();
  const config = await writeConfig(dir);
  const { child, url: base, closed } = await startServe(t, config);
  t.teardown(async () => {
    child.kill('SIGTERM');
    await closed;
  });

  t.equal((await put(base, 'prod-db-01')).status, 401, 'no token yet');

  const enrolled = await run(['--config', config, 'enroll', 'prod-db-01', '--json']);
  t.equal(enrolled.code, 0, enrolled.stderr);
  const first = JSON.parse(enrolled.stdout) as Record<string, string>;
  t.same(Object.keys(first).sort(), ['hostId', 'token'], 'exactly { hostId, token }');
  t.equal(first.hostId, 'prod-db-01');
  t.match(first.token, /^pbt_/);
  t.equal((await put(base, 'prod-db-01', first.token)).status, 200, 'accepted at once');

  // Human output: the token alone on stdout, the advice on stderr.
  const again = await run(['--config', config, 'enroll', 'prod-db-01']);
  t.equal(again.code, 0);
  const second = again.stdout.trim();
  t.match(second, /^pbt_[A-Za-z0-9_-]{43}$/);
  t.match(again.stderr, /shown only now/);
  t.equal((await put(base, 'prod-db-01', first.token)).status, 401, 'the old token stopped working');
  t.equal((await put(base, 'prod-db-01', second)).status, 200);

  const revoked = await run(['--config', config, 'revoke', 'prod-db-01']);
  t.equal(revoked.code, 0, revoked.stderr);
  t.equal((await put(base, 'prod-db-01', second)).status, 401, 'revoked at once');

  const none = await run(['--config', config, 'revoke', 'prod-db-01']);
  t.equal(none.code, 1);
  t.match(none.stderr, /host "prod-db-01" has no token to revoke/);
});

t.test('enroll and revoke usage errors exit 2', async (t) => {
  for (const args of [['enroll'], ['enroll', 'a', 'b'], ['revoke', '../etc'], ['enroll', '-x']]) {
    const r = await run(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, /patchbay-server: /);
  }
});
