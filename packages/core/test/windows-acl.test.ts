// Windows ACLs on Linux: fake icacls and whoami first on PATH record their argv and print
// fixture output in the real programs' formats; the code runs in win32 mode.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { installFakeTool } from '../../../test/helpers/fake-windows-tool.js';
import { ensureDataDir } from '../src/data-dir.js';
import { ErrorCodes } from '../src/errors.js';
import { assertKeyModePrivate } from '../src/tuf/keys.js';
import {
  allowedReaders,
  assertOnlyAdminsCanRead,
  otherReader,
  parseIcaclsOutput,
} from '../src/windows-acl.js';

const GRANTS = ['/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F'];

t.test('win32: a data directory made here is restricted with icacls, once', async (t) => {
  const dir = t.testdir();
  const icacls = installFakeTool(
    dir,
    'icacls',
    'echo "processed file: $1"; echo "Successfully processed 1 files"',
  );
  const whoami = installFakeTool(dir, 'whoami', `cat '${dir}/user.csv'`);
  writeFileSync(path.join(dir, 'user.csv'), '"nt authority\\system","S-1-5-18"\r\n');
  const data = path.join(dir, 'ProgramData', 'patchbay', 'client');
  t.equal(await ensureDataDir(data, 'dataDir', 'win32'), data);
  t.same(icacls.calls(), [[data, ...GRANTS]], 'the data directory only; SYSTEM once');
  t.same(whoami.calls(), [['/user', '/fo', 'csv', '/nh']]);
  await ensureDataDir(data, 'dataDir', 'win32');
  t.equal(icacls.calls().length, 1, 'an existing directory is left as the operator made it');
  await ensureDataDir(path.join(dir, 'linux-data'), 'dataDir', 'linux');
  t.equal(icacls.calls().length, 1, 'not on Linux');

  // a server run as LocalService keeps its own access
  writeFileSync(path.join(dir, 'user.csv'), '"nt authority\\local service","S-1-5-19"\r\n');
  const serverData = path.join(dir, 'server');
  await ensureDataDir(serverData, 'dataDir', 'win32');
  t.same(icacls.calls()[1], [serverData, ...GRANTS, '*S-1-5-19:(OI)(CI)F']);
});

t.test('win32: icacls failing is a config error naming the key, and the directory goes again', async (t) => {
  const dir = t.testdir();
  installFakeTool(dir, 'whoami', 'echo \'"nt authority\\system","S-1-5-18"\'');
  installFakeTool(
    dir,
    'icacls',
    'echo "$1: Access is denied."; echo "Successfully processed 0 files; Failed processing 1 files"; exit 5',
  );
  const data = path.join(dir, 'client');
  await t.rejects(ensureDataDir(data, 'dataDir', 'win32'), {
    code: ErrorCodes.CONFIG,
    message: new RegExp(
      `^dataDir ${data} is not usable: could not restrict it to SYSTEM and Administrators \\(icacls exit 5: .*Access is denied`,
    ),
  });
  t.notOk(existsSync(data), 'removed, so that the next start restricts it');

  installFakeTool(dir, 'whoami', 'echo "ERROR: no such thing" >&2; exit 1');
  await t.rejects(ensureDataDir(data, 'dataDir', 'win32'), {
    message: /cannot tell which account runs patchbay \(whoami exit 1: ERROR: no such thing\)/,
  });
});

/** `icacls FILE` as Windows prints it: the name, then one access entry a line, aligned. */
function icaclsListing(file: string, entries: string[]): string {
  const pad = ' '.repeat(file.length + 1);
  const lines = entries.map((entry, i) => (i === 0 ? `${file} ${entry}` : `${pad}${entry}`));
  return `${lines.join('\r\n')}\r\n\r\nSuccessfully processed 1 files; Failed processing 0 files\r\n`;
}

const WHOAMI_USER = '"nt authority\\system","S-1-5-18"\r\n';
const WHOAMI_GROUPS = [
  '"BUILTIN\\Administrators","Alias","S-1-5-32-544","Enabled by default, Enabled group, Group owner"',
  '"Everyone","Well-known group","S-1-1-0","Mandatory group, Enabled by default, Enabled group"',
  '"NT-AUTORITÄT\\SYSTEM","Well-known group","S-1-5-18","Mandatory group"',
  '"VORDEFINIERT\\Administratoren","Alias","S-1-5-32-544","Mandatory group"',
].join('\r\n');

t.test('who besides SYSTEM, Administrators and this account may read a file', async (t) => {
  const file = 'C:\\ProgramData\\patchbay\\client.token';
  const allowed = allowedReaders(WHOAMI_USER, WHOAMI_GROUPS);
  const reader = (entries: string[]): string | undefined =>
    otherReader(parseIcaclsOutput(icaclsListing(file, entries), file), allowed)?.principal;
  const fine = [
    ['private', ['NT AUTHORITY\\SYSTEM:(I)(F)', 'BUILTIN\\Administrators:(I)(F)']],
    ['by SID, and the running account', ['*S-1-5-18:(F)', '*S-1-5-32-544:(F)', 'nt authority\\system:(R)']],
    [
      'names of a German system (per whoami)',
      ['NT-AUTORITÄT\\SYSTEM:(I)(F)', 'VORDEFINIERT\\Administratoren:(I)(F)'],
    ],
    [
      'deny, inherit-only, write-only',
      ['Everyone:(DENY)(R)', 'CREATOR OWNER:(OI)(CI)(IO)(F)', 'BUILTIN\\Users:(W)'],
    ],
  ] as const;
  for (const [what, entries] of fine) t.equal(reader([...entries]), undefined, what);
  const refused = [
    ['BUILTIN\\Users', '(I)(RX)'],
    ['NT AUTHORITY\\Authenticated Users', '(M)'],
    ['Everyone', '(R)'],
    ['CONTOSO\\backup-operator', '(RD,RA)'],
    ['*S-1-5-21-1004336348-1177238915-682003330-513', '(I)(GR)'],
  ] as const;
  for (const [principal, rights] of refused) {
    t.equal(
      reader(['NT AUTHORITY\\SYSTEM:(I)(F)', `${principal}:${rights}`]),
      principal,
      `${principal} ${rights}`,
    );
  }
});

/**
 * Fake icacls printing `<file>.acl` and whoami printing the given user and groups, as the
 * secret-file checks call them; `secret` writes a file with the ACL listing icacls will show.
 */
function fakeAclTools(dir: string, user: string, groups: string) {
  const icacls = installFakeTool(dir, 'icacls', 'cat "$1.acl"');
  const whoami = installFakeTool(
    dir,
    'whoami',
    `case "$1" in /user) cat '${dir}/user.csv';; /groups) cat '${dir}/groups.csv';; esac`,
  );
  writeFileSync(path.join(dir, 'user.csv'), user);
  writeFileSync(path.join(dir, 'groups.csv'), groups);
  const secret = (name: string, entries: string[]): string => {
    const file = path.join(dir, name);
    writeFileSync(`${file}.acl`, icaclsListing(file, entries));
    return file;
  };
  return { icacls, whoami, secret };
}

t.test(
  'win32: a secret file is checked with icacls FILE and whoami; refused naming the principal',
  async (t) => {
    const dir = t.testdir();
    const { icacls, whoami, secret } = fakeAclTools(dir, WHOAMI_USER, WHOAMI_GROUPS);

    const fine = secret('private client.token', [
      'NT-AUTORITÄT\\SYSTEM:(I)(F)',
      'VORDEFINIERT\\Administratoren:(I)(F)',
    ]);
    t.doesNotThrow(
      () => assertOnlyAdminsCanRead(fine, 'tokenFile'),
      "a German system's names, read as whoami gives them",
    );
    t.same(icacls.calls(), [[fine]], 'icacls FILE, argv, no shell');
    t.same(whoami.calls(), [
      ['/user', '/fo', 'csv', '/nh'],
      ['/groups', '/fo', 'csv', '/nh'],
    ]);

    const shared = secret('shared.token', ['NT AUTHORITY\\SYSTEM:(I)(F)', 'BUILTIN\\Users:(I)(RX)']);
    t.throws(
      () => assertOnlyAdminsCanRead(shared, 'tokenFile', { file: 'C:\\ProgramData\\patchbay\\client.json' }),
      {
        code: ErrorCodes.CONFIG,
        message: `tokenFile: ${shared} is readable by BUILTIN\\Users (I)(RX); fix it with: icacls "${shared}" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`,
        context: {
          key: 'tokenFile',
          path: shared,
          principal: 'BUILTIN\\Users',
          file: 'C:\\ProgramData\\patchbay\\client.json',
        },
      },
    );

    t.throws(() => assertOnlyAdminsCanRead(path.join(dir, 'missing.token'), 'tokenFile'), {
      code: ErrorCodes.CONFIG,
      message: /^tokenFile: cannot check who may read .*missing\.token: /,
    });
  },
);

t.test('win32: a private key file is checked by its ACL, not by mode bits Windows lacks', async (t) => {
  const dir = t.testdir();
  // the staging server as a service under LocalService: its own account may read its key
  const { secret: key } = fakeAclTools(dir, '"nt authority\\local service","S-1-5-19"\r\n', WHOAMI_GROUPS);
  const own = key('online.key', ['NT AUTHORITY\\SYSTEM:(F)', 'NT AUTHORITY\\LOCAL SERVICE:(M)']);
  // Node reports 0666 for any writable file on Windows: the mode is not what decides there
  t.doesNotThrow(() => assertKeyModePrivate(0o100666, own, 'signing key', ErrorCodes.CONFIG, 'win32'));
  const open = key('root.key', ['NT AUTHORITY\\SYSTEM:(F)', 'BUILTIN\\Users:(I)(RX)']);
  t.throws(() => assertKeyModePrivate(0o100600, open, 'private key', ErrorCodes.KEY_FILE, 'win32'), {
    code: ErrorCodes.KEY_FILE,
    message: new RegExp(
      `^private key: .*root\\.key is readable by BUILTIN\\\\Users \\(I\\)\\(RX\\); fix it with: icacls .* /inheritance:r /grant:r \\*S-1-5-18:F \\*S-1-5-32-544:F \\*S-1-5-19:F$`,
    ),
    context: { keyFile: open, principal: 'BUILTIN\\Users' },
  });
  t.throws(() => assertKeyModePrivate(0o100644, open, 'private key', ErrorCodes.KEY_FILE, 'linux'), {
    code: ErrorCodes.KEY_FILE,
    message: /readable by group or others \(mode 644\); fix it with: chmod 600/,
  });
});

t.test('icacls output: names with spaces, drive-letter paths, several rights', async (t) => {
  const file = 'C:\\ProgramData\\patch bay\\client.token';
  t.same(
    parseIcaclsOutput(
      icaclsListing(file, ['NT AUTHORITY\\Authenticated Users:(I)(OI)(CI)(RX)', 'X\\a:b:(RD,WD)']),
      file,
    ),
    [
      { principal: 'NT AUTHORITY\\Authenticated Users', parts: ['I', 'OI', 'CI', 'RX'] },
      { principal: 'X\\a:b', parts: ['RD,WD'] },
    ],
  );
  t.throws(
    () => parseIcaclsOutput('C:\\other.txt BUILTIN\\Users:(R)\r\n', file),
    /does not start with the file's name/,
  );
  t.throws(() => parseIcaclsOutput(`${file} garbage\r\n`, file), /not an icacls access entry: garbage/);
});
