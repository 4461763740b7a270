import t from 'tap';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes } from '../src/errors.js';
import {
  addTargetFile,
  expiresAfter,
  listMetadataVersions,
  loadRepository,
  metadataBytes,
  newestVersion,
  nextVersion,
  readMetadata,
  signWith,
  targetFilePath,
  writeMetadata,
} from '../src/tuf/index.js';
import { NOW, ROLE, buildRepository, newKeys, signer } from './fixtures/tuf-repo.js';

t.test('a written repository loads back: newest version of every role', async (t) => {
  const dir = join(t.testdir(), 'repo');
  const built = await buildRepository(dir);
  const names = (await readdir(join(dir, 'metadata'))).sort();
  t.same(names, [
    '1.arcserve-backup~19.0.json',
    '1.root.json',
    '1.snapshot.json',
    '1.targets.json',
    'root.json',
    'timestamp.json',
  ]);
  t.same(
    await readFile(join(dir, 'metadata', 'root.json')),
    await readFile(join(dir, 'metadata', '1.root.json')),
  );
  const loaded = await loadRepository(dir);
  t.same(loaded.root.toJSON(), built.root.toJSON());
  t.same(loaded.targets.toJSON(), built.targets.toJSON());
  t.same([...loaded.roles.keys()], [ROLE]);
  t.same(loaded.roles.get(ROLE)!.toJSON(), built.role.toJSON());
  t.same(loaded.snapshot.signed.meta['targets.json']!.toJSON(), {
    version: 1,
    length: metadataBytes(built.targets).length,
  });
  t.same(Object.keys(loaded.snapshot.signed.meta).sort(), [`${ROLE}.json`, 'targets.json']);
  const tsMeta = loaded.timestamp.signed.snapshotMeta;
  const snapBytes = await readFile(join(dir, 'metadata', '1.snapshot.json'));
  t.equal(tsMeta.length, snapBytes.length);
  t.same(tsMeta.hashes, { sha256: createHash('sha256').update(snapBytes).digest('hex') });
  t.same(
    await listMetadataVersions(dir),
    new Map([
      [ROLE, [1]],
      ['root', [1]],
      ['snapshot', [1]],
      ['targets', [1]],
    ]),
  );
  t.equal(await newestVersion(dir, 'timestamp'), 1);
});

t.test('versions only grow; the newest may be rewritten only to add signatures', async (t) => {
  const dir = join(t.testdir(), 'repo');
  const keys = newKeys();
  const { targets } = await buildRepository(dir, keys);
  const v2 = nextVersion(targets, expiresAfter(NOW, 90));
  t.equal(v2.signed.version, 2);
  t.same(v2.signatures, {});
  t.same(
    v2.signed.unrecognizedFields['x-patchbay'],
    targets.signed.unrecognizedFields['x-patchbay'],
    'fields kept',
  );
  t.same(
    signWith(
      v2,
      [Object.keys(targets.signatures)[0]!],
      new Map([[Object.keys(targets.signatures)[0]!, signer(keys.targets)]]),
    ),
    [Object.keys(targets.signatures)[0]],
  );
  await writeMetadata(dir, 'targets', v2);
  t.equal(await newestVersion(dir, 'targets'), 2);

  await t.rejects(writeMetadata(dir, 'targets', targets), {
    code: ErrorCodes.TUF_REPOSITORY,
    message: /version 1 is older than version 2/,
  });
  const changed = nextVersion(targets, expiresAfter(NOW, 30));
  await t.rejects(writeMetadata(dir, 'targets', changed), {
    code: ErrorCodes.TUF_REPOSITORY,
    message: /version 2 already exists/,
  });
  await t.rejects(writeMetadata(dir, 'targets', changed, { sameVersion: true }), {
    code: ErrorCodes.TUF_REPOSITORY,
    message: /already exists with other content/,
  });
  // Same signed content with one more signature: allowed.
  const again = (await readMetadata(dir, 'targets'))!;
  again.sign(signer(keys.root));
  await writeMetadata(dir, 'targets', again, { sameVersion: true });
  t.equal(Object.keys((await readMetadata(dir, 'targets'))!.signatures).length, 2);
  await t.rejects(writeMetadata(dir, 'snapshot', v2), {
    code: ErrorCodes.TUF_REPOSITORY,
    message: /cannot write targets metadata as role snapshot/,
  });

  const root2 = nextVersion((await readMetadata(dir, 'root'))!, expiresAfter(NOW, 365));
  root2.sign(signer(keys.root));
  await writeMetadata(dir, 'root', root2);
  t.same(
    await readFile(join(dir, 'metadata', 'root.json')),
    await readFile(join(dir, 'metadata', '2.root.json')),
    'root.json = newest',
  );
});

t.test('loadRepository names what is missing', async (t) => {
  const dir = t.testdir({ metadata: {} });
  await t.rejects(loadRepository(dir), { code: ErrorCodes.TUF_REPOSITORY, message: /has no root metadata/ });
});

t.test('target files are stored by digest; a wrong expected digest or size stores nothing', async (t) => {
  const dir = join(t.testdir(), 'repo');
  const source = join(dir, '..', 'payload.bin');
  const bytes = Buffer.from('payload bytes\n');
  await writeFile(source, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const stored = await addTargetFile(dir, 'p/1.0/X1/payload.bin', source, { length: bytes.length, sha256 });
  t.same(stored, {
    length: bytes.length,
    sha256,
    path: join(dir, 'targets', 'p', '1.0', 'X1', `${sha256}.payload.bin`),
  });
  t.equal(targetFilePath(dir, 'p/1.0/X1/payload.bin', sha256), stored.path);
  t.same(await readFile(stored.path), bytes);
  t.same(await addTargetFile(dir, 'p/1.0/X1/payload.bin', bytes), stored, 'the same bytes again: kept');

  await t.rejects(
    addTargetFile(dir, 'p/1.0/X2/payload.bin', source, { length: bytes.length, sha256: 'f'.repeat(64) }),
    {
      code: ErrorCodes.DIGEST_MISMATCH,
    },
  );
  await t.rejects(addTargetFile(dir, 'p/1.0/X2/payload.bin', source, { length: 1, sha256 }), {
    code: ErrorCodes.SIZE_MISMATCH,
  });
  t.same(await readdir(join(dir, 'targets', 'p', '1.0')), ['X1'], 'nothing stored for X2');
  t.same(
    (await readdir(join(dir, 'targets'))).filter((n) => n.endsWith('.tmp')),
    [],
    'no temp left behind',
  );
  await t.rejects(addTargetFile(dir, '../escape', bytes), { code: ErrorCodes.UNSAFE_NAME });
  await t.rejects(addTargetFile(dir, 'a//b', bytes), { code: ErrorCodes.UNSAFE_NAME });
});
