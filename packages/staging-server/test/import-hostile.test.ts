// `import` given a hostile bundle (issue 14), tested as the attacker with real files: a
// directory bundle holding links (to a secret outside, a linked subdirectory, even a link
// inside), a gzip archive named .tar, and a small archive that unpacks to far more than the
// free space the check was told about (the free-space reading injected: beforeUnpack).
import { cp, mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { create as createTar } from 'tar';
import { ErrorCodes, isPatchbayError } from '@patchbay/core';
import { generateSampleFeed } from '@patchbay/sample-feed';
import { compressionOf } from '../src/exchange/bundle-format.js';
import { runImport } from '../src/exchange/import-run.js';
import { openImportSource } from '../src/exchange/import-source.js';
import { importConfig } from './fixtures/import-config.js';
import { silentLogger } from './fixtures/sync-upstream.js';

const SECRET = 'secret: the admin token is hunter2, and this line must never be mirrored\n';

async function refusal(
  t: Test,
  promise: Promise<unknown>,
): Promise<Error & { code?: string; context?: unknown }> {
  try {
    await promise;
  } catch (err) {
    t.ok(isPatchbayError(err), `a PatchbayError: ${String(err)}`);
    t.equal((err as { code?: string }).code, ErrorCodes.IMPORT_REFUSED, 'PB_ERR_IMPORT_REFUSED');
    return err as Error;
  }
  t.fail('the import was not refused');
  return new Error('not refused');
}

/** Every file name under the data dir's store (blobs and temp). */
async function storeFiles(dataDir: string): Promise<string[]> {
  const entries = await readdir(join(dataDir, 'store'), { recursive: true, withFileTypes: true }).catch(
    () => [],
  );
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

async function assertNothingImported(t: Test, dataDir: string): Promise<void> {
  t.same(await storeFiles(dataDir), [], 'nothing in the store (no blob, no unpacked temp)');
  await readFile(join(dataDir, 'catalog', 'current.json')).then(
    () => t.fail('a catalog was published'),
    () => t.pass('no catalog published'),
  );
}

t.test('a directory bundle holding links is refused whole, before anything is read', async (t) => {
  const root = t.testdir({ outside: { 'secret.txt': SECRET, dir: { 'x.sh': SECRET } } });
  const feedDir = join(root, 'feed');
  await generateSampleFeed({ outDir: feedDir });
  const plain = await runImport(importConfig(join(root, 'plain')), silentLogger, [feedDir]);
  t.equal(plain.kind, 'directory', 'the same directory without links imports');

  const cases: { name: string; make: (bundle: string) => Promise<void>; entry: string }[] = [
    {
      name: 'a link to a secret file outside',
      make: (b) => symlink(join(root, 'outside', 'secret.txt'), join(b, 'files', 'secret.sh')),
      entry: 'files/secret.sh (symbolic link)',
    },
    {
      name: 'a linked subdirectory leading outside',
      make: (b) => symlink(join(root, 'outside', 'dir'), join(b, 'files', 'linked')),
      entry: 'files/linked (symbolic link)',
    },
    {
      name: 'a link pointing inside the bundle',
      make: (b) => symlink(join(b, 'feed.json'), join(b, 'copy-of-feed.json')),
      entry: 'copy-of-feed.json (symbolic link)',
    },
    {
      name: 'feed.json itself a link to a feed elsewhere',
      make: async (b) => {
        const elsewhere = join(root, 'outside', `feed-${b.length}-${Math.random()}.json`);
        await rename(join(b, 'feed.json'), elsewhere);
        await symlink(elsewhere, join(b, 'feed.json'));
      },
      entry: 'feed.json (symbolic link)',
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.test(c.name, async (t) => {
      const bundle = join(root, `bundle-${i}`);
      await cp(feedDir, bundle, { recursive: true });
      await c.make(bundle);
      const dataDir = join(root, `data-${i}`);
      const err = await refusal(t, runImport(importConfig(dataDir), silentLogger, [bundle]));
      t.match(err.message, `${bundle} holds entries that are not plain files or directories: ${c.entry}`);
      t.match(err.message, /links in a bundle are refused, not followed/);
      t.notOk(err.message.includes('hunter2'), 'no content of the target in the message');
      await assertNothingImported(t, dataDir);
    });
  }
});

/** A plain tar of the sample feed, and the same bytes gzipped under a .tar name. */
async function archives(root: string): Promise<{ tar: string; gzipped: string }> {
  const feedDir = join(root, 'feed');
  await generateSampleFeed({ outDir: feedDir });
  const tar = join(root, 'bundle.tar');
  await createTar({ file: tar, cwd: feedDir }, ['.']);
  const gzipped = join(root, 'really-gzip.tar');
  await writeFile(gzipped, gzipSync(await readFile(tar)));
  return { tar, gzipped };
}

t.test('a gzip file named .tar is refused, not unpacked', async (t) => {
  const root = t.testdir({});
  const { tar, gzipped } = await archives(root);
  t.equal(
    (await runImport(importConfig(join(root, 'plain')), silentLogger, [tar])).kind,
    'tar',
    'the plain tar imports',
  );

  const dataDir = join(root, 'data');
  const err = await refusal(t, runImport(importConfig(dataDir), silentLogger, [gzipped]));
  t.match(err.message, `${gzipped} is gzip-compressed, not a plain tar archive`);
  t.match(err.message, /decompress it first/);
  await assertNothingImported(t, dataDir);

  t.equal(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), 'zstd', 'zstd is known too');
  t.equal(compressionOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
  t.equal(compressionOf(Buffer.from('./\0\0\0\0', 'latin1')), null, "a tar's first name is no compression");
});

t.test('an archive that unpacks beyond the free space checked writes nothing', async (t) => {
  const root = t.testdir({ staging: {} });
  // 32 MiB of zeros, a few dozen KiB gzipped: the bytes given are not the bytes unpacked.
  const bombDir = join(root, 'bomb');
  await mkdir(bombDir);
  await writeFile(join(bombDir, 'feed.json'), '{}');
  await writeFile(join(bombDir, 'zeros.bin'), Buffer.alloc(32 * 1024 * 1024));
  const tar = join(root, 'bomb.tar');
  await createTar({ file: tar, cwd: bombDir }, ['.']);
  const bomb = join(root, 'bomb-gzip.tar');
  await writeFile(bomb, gzipSync(await readFile(tar)));

  // The free-space reading, injected: 1 MiB free on the staging filesystem.
  const free = 1024 * 1024;
  const asked: number[] = [];
  const beforeUnpack = async (bytes: number): Promise<void> => {
    asked.push(bytes);
    if (bytes > free) throw new Error(`no room: ${bytes} > ${free}`);
  };
  const staging = join(root, 'staging');
  const err = await refusal(t, openImportSource([bomb], { stagingParent: staging, beforeUnpack }));
  t.match(err.message, /gzip-compressed/);
  t.same(await readdir(staging, { recursive: true }), [], 'nothing unpacked into the staging area');

  // The plain tar of the same content: its own size is what is checked, and it is refused.
  await t.rejects(openImportSource([tar], { stagingParent: staging, beforeUnpack }), /no room/);
  t.ok(
    asked.every((bytes) => bytes >= 32 * 1024 * 1024),
    `the check was asked for at least the unpacked bytes (${asked.join(', ')})`,
  );
  t.same(await readdir(staging, { recursive: true }), [], 'still nothing unpacked');
});

t.test('a tar or an export part found in a directory must be a plain file, not a link', async (t) => {
  const root = t.testdir({ outside: { 'secret.txt': SECRET } });
  const { tar } = await archives(root);

  const tarDir = join(root, 'tar-dir');
  await mkdir(tarDir);
  await symlink(tar, join(tarDir, 'bundle.tar'));
  const dataDir = join(root, 'data-tar');
  const err = await refusal(t, runImport(importConfig(dataDir), silentLogger, [tarDir]));
  t.match(
    err.message,
    `${join(tarDir, 'bundle.tar')}: not a plain file (a link?); links in a bundle are refused`,
  );
  await assertNothingImported(t, dataDir);

  const partsDir = join(root, 'parts-dir');
  await mkdir(partsDir);
  const bytes = await readFile(tar);
  await writeFile(join(partsDir, 'export-1.tar.part-001-of-002'), bytes.subarray(0, 1024));
  await symlink(join(root, 'outside', 'secret.txt'), join(partsDir, 'export-1.tar.part-002-of-002'));
  const partsData = join(root, 'data-parts');
  const partsErr = await refusal(t, runImport(importConfig(partsData), silentLogger, [partsDir]));
  t.match(partsErr.message, `${join(partsDir, 'export-1.tar.part-002-of-002')}: not a plain file`);
  t.notOk(partsErr.message.includes('hunter2'), 'nothing of the link target in the message');
  await assertNothingImported(t, partsData);
});
