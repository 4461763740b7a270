import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { sha256File, sha256Hex } from '../src/hash.js';

t.test('sha256Hex matches known vectors', async (t) => {
  t.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  t.equal(sha256Hex(Buffer.from('abc')), sha256Hex('abc'));
});

t.test('sha256File streams files larger than one read', async (t) => {
  const dir = t.testdir();
  const data = randomBytes(3 * (1 << 20) + 17);
  const path = join(dir, 'big.bin');
  await writeFile(path, data);
  t.equal(await sha256File(path), createHash('sha256').update(data).digest('hex'));
  await writeFile(join(dir, 'empty'), '');
  t.equal(await sha256File(join(dir, 'empty')), sha256Hex(''));
  await t.rejects(sha256File(join(dir, 'missing')), { code: 'ENOENT' });
});

t.test('sha256File refuses a FIFO or a directory at once, never waiting for a writer', async (t) => {
  const dir = t.testdir();
  const fifo = join(dir, 'patch.bin');
  execFileSync('mkfifo', [fifo]);
  // Without the non-blocking open this awaits a writer forever: the test would time out.
  await t.rejects(sha256File(fifo), {
    code: 'PB_ERR_NOT_A_FILE',
    message: `${fifo} is not a regular file`,
  });
  await t.rejects(sha256File(dir), { code: 'PB_ERR_NOT_A_FILE' });
});
