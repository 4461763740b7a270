// tokenFile holds the host's report token: a file that group or others may read is refused
// (exit 2 naming tokenFile and saying chmod 600), as the server refuses its private keys.
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { makeSandbox } from './fixtures/client.js';
import { buildCatalog, startStaging } from './fixtures/staging.js';

const skip = process.platform === 'win32' ? 'no mode bits on Windows' : false;

t.test('a group- or world-readable tokenFile stops the client with exit 2', { skip }, async (t) => {
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  t.teardown(() => staging.close());
  const dir = t.testdir();
  const tokenFile = path.join(dir, 'client.token');
  writeFileSync(tokenFile, 'secret-token\n', { mode: 0o600 });
  const sb = makeSandbox(dir, () => [staging.url], { tokenFile });

  for (const mode of [0o644, 0o640, 0o604]) {
    chmodSync(tokenFile, mode);
    const res = await sb.run(['check']);
    const octal = mode.toString(8);
    t.equal(res.code, 2, `mode ${octal}: exit 2`);
    t.match(res.stderr, `tokenFile: ${tokenFile} is readable by group or others (mode ${octal})`);
    t.match(res.stderr, `chmod 600 ${tokenFile}`);
    t.equal(staging.requests.length, 0, `mode ${octal}: nothing sent`);
  }

  chmodSync(tokenFile, 0o600);
  const ok = await sb.json<{ patches: { id: string }[] }>(['check']);
  t.equal(ok.code, 0, ok.stderr);
  t.ok(ok.doc.patches.some((p) => p.id === 'A'));
  const reports = staging.requests.filter((r) => r.method === 'PUT' && r.url.includes('/report'));
  t.ok(reports.length > 0, 'a report went out');
  t.ok(
    reports.every((r) => r.headers.authorization === 'Bearer secret-token'),
    'with the token from the 0600 file',
  );
});

t.test('a missing tokenFile is still "cannot read" (exit 2)', async (t) => {
  const staging = await startStaging(buildCatalog([{ id: 'A' }]));
  t.teardown(() => staging.close());
  const dir = t.testdir();
  const tokenFile = path.join(dir, 'nope.token');
  const sb = makeSandbox(dir, () => [staging.url], { tokenFile });
  const res = await sb.run(['check']);
  t.equal(res.code, 2);
  t.match(res.stderr, `tokenFile: cannot read ${tokenFile}`);
});
