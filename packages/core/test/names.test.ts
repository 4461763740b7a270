import t from 'tap';
import { isSafeFileName, isSha256Hex, assertSafeFileName } from '../src/names.js';
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

t.test('sha256 hex must be 64 lowercase hex', async (t) => {
  t.ok(isSha256Hex('a'.repeat(64)));
  t.notOk(isSha256Hex('A'.repeat(64)));
  t.notOk(isSha256Hex('a'.repeat(63)));
  t.notOk(isSha256Hex('g'.repeat(64)));
});
