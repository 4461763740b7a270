// tokenFile holds the host's report token: a file that group or others may read is refused
// (exit 2 naming tokenFile and saying chmod 600), as the server refuses its private keys.
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { installFakeTool } from '../../../test/helpers/fake-windows-tool.js';
import { createSession } from '../src/session.js';
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

// Windows on Linux: the session checks the token file's ACL with icacls (fakes first on PATH
// print it as Windows would), not its mode; a 0600 file another principal may read is refused.
t.test(
  'win32: a tokenFile whose ACL lets Users read it stops the session, naming the principal',
  async (t) => {
    const dir = t.testdir();
    const tokenFile = path.join(dir, 'client.token');
    writeFileSync(tokenFile, 'secret-token\n', { mode: 0o600 });
    const acl = (entries: string[]): void =>
      writeFileSync(
        `${tokenFile}.acl`,
        `${tokenFile} ${entries.join(`\r\n${' '.repeat(tokenFile.length + 1)}`)}\r\n\r\nSuccessfully processed 1 files\r\n`,
      );
    const icacls = installFakeTool(dir, 'icacls', 'cat "$1.acl"');
    installFakeTool(dir, 'whoami', `echo '"nt authority\\system","S-1-5-18"'`);
    const sb = makeSandbox(dir, () => ['http://127.0.0.1:9'], { tokenFile });
    sb.writeConfig();

    acl(['NT AUTHORITY\\SYSTEM:(I)(F)', 'BUILTIN\\Users:(I)(RX)', 'BUILTIN\\Administrators:(I)(F)']);
    t.throws(() => createSession({ config: sb.configPath, json: true }, 'check', { platform: 'win32' }), {
      code: 'PB_ERR_CONFIG',
      message: `tokenFile: ${tokenFile} is readable by BUILTIN\\Users (I)(RX); fix it with: icacls "${tokenFile}" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`,
    });
    t.same(icacls.calls(), [[tokenFile]]);

    acl(['NT AUTHORITY\\SYSTEM:(I)(F)', 'BUILTIN\\Administrators:(I)(F)']);
    chmodSync(tokenFile, 0o644); // mode bits mean nothing there
    const session = createSession({ config: sb.configPath, json: true }, 'check', { platform: 'win32' });
    t.teardown(() => session.close());
    t.equal(session.token, 'secret-token');
  },
);
