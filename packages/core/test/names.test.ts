import t from 'tap';
import {
  assertSafeFileName,
  fileNameProblem,
  isSafeFileName,
  isSha256Hex,
  mayRunOnWindows,
  patchFileNameIssue,
} from '../src/names.js';
import { PatchbayError } from '../src/errors.js';

t.test('plain file names pass, traversal and separators do not', async (t) => {
  for (const ok of ['T5KB0042.sh', 'a.b.c', 'setup-1.0.exe', 'x']) t.ok(isSafeFileName(ok), ok);
  for (const bad of [
    '',
    '.',
    '..',
    '../x',
    'a/b',
    'a\\b',
    'a\0b',
    'C:evil',
    'c:\\x',
    'x..y',
    'a'.repeat(256),
  ])
    t.notOk(isSafeFileName(bad), JSON.stringify(bad));
  t.throws(() => assertSafeFileName('../etc/passwd'), PatchbayError);
});

t.test("Windows' rules: device names, streams, trailing dots and spaces, forbidden characters", async (t) => {
  const refused: [string, RegExp][] = [
    ['CON', /"CON" is a reserved device name/],
    ['nul', /"nul" is a reserved device name/],
    ['NUL.txt', /"NUL" is a reserved device name/],
    ['Aux.tar.gz', /"Aux" is a reserved device name/],
    ['prn .log', /"prn" is a reserved device name/],
    ['COM1', /reserved device name/],
    ['lpt9.msp', /reserved device name/],
    ['COM¹', /reserved device name/],
    ['LPT³.exe', /reserved device name/],
    ['setup.msp:evil', /alternate data stream/],
    ['setup.msp:evil:$DATA', /alternate data stream/],
    ['setup.exe.', /ends with a dot or a space/],
    ['setup.exe ', /ends with a dot or a space/],
    ['a\u0001b', /control character 1,/],
    ['tab\there', /control character 9,/],
    ['a\u001fb', /control character 31,/],
    ['a<b', /contains "<"/],
    ['a>b', /contains ">"/],
    ['a"b', /contains """/],
    ['a|b', /contains "\|"/],
    ['a?b', /contains "\?"/],
    ['a*b', /contains "\*"/],
  ];
  for (const [name, reason] of refused) {
    t.match(fileNameProblem(name, true), reason, JSON.stringify(name));
    t.equal(fileNameProblem(name), undefined, `${JSON.stringify(name)} is fine where Windows never runs it`);
  }
  for (const ok of [
    'CONSOLE.exe',
    'COM10.txt',
    'COM0',
    'LPT⁴',
    'nul-driver.msp',
    'T5KB0208.msp',
    'a.b c.exe',
    'x.CON',
  ]) {
    t.equal(fileNameProblem(ok, true), undefined, `${ok} is not a device name`);
  }
  t.throws(() => assertSafeFileName('AUX.msp', 'patch T5 file', true), {
    code: 'PB_ERR_UNSAFE_NAME',
    message: 'patch T5 file "AUX.msp" is not a plain file name: "AUX" is a reserved device name on Windows',
  });
});

t.test('which patches get Windows rules, and case twins in one patch', async (t) => {
  t.ok(mayRunOnWindows(undefined), 'no platforms: every platform, Windows too');
  t.ok(mayRunOnWindows([]));
  t.ok(mayRunOnWindows(['linux', 'win32']));
  t.notOk(mayRunOnWindows(['linux']));
  t.same(patchFileNameIssue(['Setup.msp', 'readme.txt', 'SETUP.MSP'], ['win32']), {
    index: 2,
    name: 'SETUP.MSP',
    reason: 'file names "Setup.msp" and "SETUP.MSP" differ only by case (one file on Windows)',
  });
  t.equal(patchFileNameIssue(['Setup.msp', 'SETUP.MSP'], ['linux']), undefined, 'two files on Linux');
  t.match(patchFileNameIssue(['a.sh', 'a.sh'], ['linux']), {
    index: 1,
    reason: 'duplicate file name "a.sh"',
  });
  t.match(patchFileNameIssue(['ok.msp', 'NUL'], undefined), { index: 1, reason: /reserved device name/ });
  t.equal(patchFileNameIssue(['NUL'], ['linux']), undefined);
});

t.test('sha256 hex must be 64 lowercase hex', async (t) => {
  t.ok(isSha256Hex('a'.repeat(64)));
  t.notOk(isSha256Hex('A'.repeat(64)));
  t.notOk(isSha256Hex('a'.repeat(63)));
  t.notOk(isSha256Hex('g'.repeat(64)));
});
