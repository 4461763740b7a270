// Paths by the rules of the host they belong to, driven for both platforms on Linux: drive
// letters and UNC names on Windows, case folded there, and a Windows config's paths kept.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadClientConfig } from '../src/config.js';
import { isInside, pathFor } from '../src/platform-path.js';
import { systemToolPath } from '../src/system-tool.js';

t.test('isInside on Windows: drive letters, UNC names, case, and no way out', async (t) => {
  const inside: [string, string][] = [
    ['C:\\Program Files\\Arcserve', 'C:\\Program Files\\Arcserve\\patches\\T5.log'],
    ['C:\\Program Files\\Arcserve', 'c:\\PROGRAM FILES\\arcserve\\x'],
    ['C:\\Program Files\\Arcserve\\', 'C:/Program Files/Arcserve/x'],
    ['\\\\server\\share\\arcserve', '\\\\SERVER\\Share\\Arcserve\\cache\\blob'],
  ];
  for (const [parent, child] of inside) t.ok(isInside(parent, child, 'win32'), `${child} in ${parent}`);
  const outside: [string, string][] = [
    ['C:\\Program Files\\Arcserve', 'C:\\Program Files\\Arcserve'],
    ['C:\\Program Files\\Arcserve', 'C:\\Program Files\\ArcserveEvil\\x'],
    ['C:\\Program Files\\Arcserve', 'C:\\Program Files\\Arcserve\\..\\Other'],
    ['C:\\Program Files\\Arcserve', 'D:\\Program Files\\Arcserve\\x'],
    ['\\\\server\\share\\arcserve', '\\\\other\\share\\arcserve\\x'],
    ['\\\\server\\share\\arcserve', 'C:\\arcserve\\x'],
  ];
  for (const [parent, child] of outside)
    t.notOk(isInside(parent, child, 'win32'), `${child} not in ${parent}`);
});

t.test('isInside on Linux: case matters, backslash is no separator', async (t) => {
  t.ok(isInside('/opt/arcserve', '/opt/arcserve/patches/x', 'linux'));
  t.notOk(isInside('/opt/arcserve', '/opt/Arcserve/x', 'linux'), 'another directory on Linux');
  t.notOk(isInside('/opt/arcserve', '/opt/arcserve/../etc', 'linux'));
  t.notOk(isInside('/opt/arcserve', '/opt/arcserve', 'linux'));
  t.notOk(isInside('/opt/arcserve', '/opt/arcserve-old/x', 'linux'));
  t.equal(pathFor('linux').sep, '/');
  t.equal(pathFor('win32').sep, '\\');
});

t.test(
  "a Windows host's config: drive-letter and UNC paths are absolute and kept, relative ones resolved",
  async (t) => {
    const dir = t.testdir();
    const file = path.join(dir, 'client.json');
    writeFileSync(
      file,
      JSON.stringify({
        server: 'https://patchbay.example',
        dataDir: 'D:\\patchbay\\data',
        tokenFile: 'token.txt',
        products: [
          { id: 'arcserve-backup', release: '19.0', installDir: 'C:\\Program Files\\CA\\ARCserve Backup' },
          { id: 'udp', release: '9.0', installDir: '\\\\backup01\\apps\\udp' },
        ],
      }),
    );
    const config = loadClientConfig({ file, platform: 'win32' });
    t.equal(config.dataDir, 'D:\\patchbay\\data');
    t.same(
      config.products.map((p) => p.installDir),
      ['C:\\Program Files\\CA\\ARCserve Backup', '\\\\backup01\\apps\\udp'],
    );
    t.equal(
      config.tokenFile,
      path.win32.join(dir, 'token.txt'),
      "relative: against the config file's directory",
    );

    // the same file read by Linux rules: those are relative names, put under the file's directory
    const linux = loadClientConfig({ file, platform: 'linux' });
    t.equal(linux.dataDir, path.posix.join(dir, 'D:\\patchbay\\data'));
  },
);

t.test('Windows programs by their full System32 path there, by name elsewhere', async (t) => {
  t.equal(
    systemToolPath('taskkill', 'win32', { SystemRoot: 'D:\\Windows' }),
    'D:\\Windows\\System32\\taskkill.exe',
  );
  t.equal(systemToolPath('icacls', 'win32', {}), 'C:\\Windows\\System32\\icacls.exe', 'SystemRoot unset');
  t.equal(systemToolPath('whoami', 'linux', { SystemRoot: 'D:\\Windows' }), 'whoami', "PATH's, if any");
});
