import t from 'tap';
import { join } from 'node:path';
import { expandCommand, expandString } from '../src/placeholders.js';
import type { PlaceholderContext } from '../src/placeholders.js';
import { ErrorCodes, PatchbayError } from '../src/errors.js';

function context(dir: string): PlaceholderContext {
  return {
    files: { 'T5KB0042.sh': join(dir, 'T5KB0042.sh'), 'a b.txt': join(dir, 'a b.txt') },
    installDir: join(dir, 'arcserve'),
    release: '19.0',
    patchId: 'T5KB0042',
    dataDir: join(dir, 'data'),
  };
}

t.test('every placeholder expands, text around it stays verbatim', async (t) => {
  const dir = t.testdir({ 'T5KB0042.sh': 'echo hi\n' });
  const ctx = context(dir);
  t.same(expandCommand(['sh', '{file:T5KB0042.sh}', 'install'], ctx), [
    'sh',
    join(dir, 'T5KB0042.sh'),
    'install',
  ]);
  t.same(
    expandCommand(['--dir={installDir}/bin', '{release}-{patchId}', '{dataDir}', '{file:a b.txt}'], ctx),
    [`--dir=${ctx.installDir}/bin`, '19.0-T5KB0042', ctx.dataDir, join(dir, 'a b.txt')],
  );
  t.equal(
    expandString('{installDir}/patches/{patchId}.installed', ctx),
    `${ctx.installDir}/patches/T5KB0042.installed`,
  );
});

t.test('lone braces and non-placeholders are kept; no shell, no splitting', async (t) => {
  const ctx = context(t.testdir({}));
  const argv = ['{', '}', '{}', '{ installDir }', 'awk {print $1}', '{1}', 'a;b && c', '$(id)', 'x y'];
  t.same(expandCommand(argv, ctx), argv);
});

t.test('a value with braces is not expanded again', async (t) => {
  const ctx = { ...context(t.testdir({})), installDir: '/opt/{patchId}' };
  t.equal(expandString('{installDir}', ctx), '/opt/{patchId}');
});

t.test(
  'unknown placeholders and unknown files are PB_ERR_PLACEHOLDER naming them and the argv index',
  async (t) => {
    const ctx = context(t.testdir({}));
    const cases: [string[], RegExp, string][] = [
      [
        ['sh', '{file:missing.sh}'],
        /file "missing.sh" is not one of the patch's files in argv\[1\] of patch T5KB0042: \{file:missing.sh\}/,
        '{file:missing.sh}',
      ],
      [['{hostname}'], /unknown placeholder in argv\[0\] of patch T5KB0042: \{hostname\}/, '{hostname}'],
      [['x', 'y', '--a={installdir}'], /unknown placeholder in argv\[2\].*\{installdir\}/, '{installdir}'],
      [['{file}'], /needs a file name in argv\[0\]/, '{file}'],
      [['{file:}'], /needs a file name/, '{file:}'],
      [['{release:x}'], /unknown placeholder.*\{release:x\}/, '{release:x}'],
      [['{file:constructor}'], /file "constructor" is not one of/, '{file:constructor}'],
    ];
    for (const [argv, pattern, placeholder] of cases) {
      try {
        expandCommand(argv, ctx);
        t.fail(`expected ${argv.join(' ')} to throw`);
      } catch (err) {
        t.ok(err instanceof PatchbayError);
        t.equal((err as PatchbayError).code, ErrorCodes.PLACEHOLDER);
        t.match((err as Error).message, pattern);
        t.equal((err as PatchbayError).context.placeholder, placeholder);
      }
    }
    t.throws(() => expandString('{nope}/x', ctx), {
      code: ErrorCodes.PLACEHOLDER,
      message: /unknown placeholder of patch T5KB0042: \{nope\}/,
    });
  },
);

t.test('{log}: the installer log path in install/uninstall argv; refused where there is none', async (t) => {
  const dir = t.testdir({});
  const log = join(dir, 'logs', 'T5KB0042-install-x.installer.log');
  t.same(expandCommand(['msiexec', '/l*v', '{log}', '/LOG={log}'], { ...context(dir), log }), [
    'msiexec',
    '/l*v',
    log,
    `/LOG=${log}`,
  ]);
  // a detect command or path has no log: {log} there names itself and the reason
  t.throws(() => expandCommand(['check', '{log}'], context(dir)), {
    code: ErrorCodes.PLACEHOLDER,
    message:
      /placeholder \{log\} is for install and uninstall argv only in argv\[1\] of patch T5KB0042: \{log\}/,
  });
  t.throws(() => expandString('{log}', context(dir)), { code: ErrorCodes.PLACEHOLDER });
  t.throws(() => expandCommand(['{log:x}'], { ...context(dir), log }), {
    code: ErrorCodes.PLACEHOLDER,
    message: /unknown placeholder.*\{log:x\}/,
  });
});

t.test(
  'Windows Installer product and patch codes in braces are literal text, not placeholders',
  async (t) => {
    const ctx = context(t.testdir({}));
    const argv = [
      'msiexec',
      '/package',
      '{0C9840E7-7F0B-C648-10F0-4641926FE463}',
      '/uninstall',
      '{EB8C947C-78B2-85A0-644D-86CEEF8E07C0}',
      '{ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB}',
    ];
    t.same(expandCommand(argv, ctx), argv);
  },
);
