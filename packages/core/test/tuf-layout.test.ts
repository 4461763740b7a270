import t from 'tap';
import {
  consistentTargetPath,
  delegationPaths,
  descriptorTargetPath,
  fileTargetPath,
  metadataFileName,
  parseMetadataFileName,
  parseRoleName,
  parseTargetPath,
  roleNameFor,
  snapshotMetaKey,
} from '../src/tuf/index.js';

t.test('role names and delegated paths of a product release', async (t) => {
  t.equal(roleNameFor('arcserve-backup', '19.0'), 'arcserve-backup~19.0');
  t.same(parseRoleName('arcserve-backup~19.0'), { product: 'arcserve-backup', release: '19.0' });
  t.equal(parseRoleName('targets'), undefined);
  t.equal(parseRoleName('a~b~c'), undefined);
  t.equal(parseRoleName('~19.0'), undefined);
  t.throws(() => roleNameFor('a~b', '1'), RangeError);
  t.same(delegationPaths('arcserve-backup', '19.0'), ['arcserve-backup/19.0/*', 'arcserve-backup/19.0/*/*']);
});

t.test('descriptor and file target paths, and what a path names', async (t) => {
  t.equal(descriptorTargetPath('arcserve-backup', '19.0', 'T5KB0042'), 'arcserve-backup/19.0/T5KB0042.json');
  t.equal(
    fileTargetPath('arcserve-backup', '19.0', 'T5KB0042', 'T5KB0042.sh'),
    'arcserve-backup/19.0/T5KB0042/T5KB0042.sh',
  );
  t.same(parseTargetPath('arcserve-backup/19.0/T5KB0042.json'), {
    kind: 'descriptor',
    product: 'arcserve-backup',
    release: '19.0',
    patchId: 'T5KB0042',
  });
  t.same(parseTargetPath('arcserve-backup/19.0/T5KB0042/T5KB0042.sh'), {
    kind: 'file',
    product: 'arcserve-backup',
    release: '19.0',
    patchId: 'T5KB0042',
    fileName: 'T5KB0042.sh',
  });
  t.equal(
    parseTargetPath('arcserve-backup/19.0/README.txt'),
    undefined,
    'three segments without .json: ignored',
  );
  t.equal(parseTargetPath('arcserve-backup/19.0/.json'), undefined);
  t.equal(parseTargetPath('a//b.json'), undefined);
  t.equal(parseTargetPath('a/b/c/d/e'), undefined);
});

t.test('metadata file names: versioned, role name URI-encoded, timestamp unversioned', async (t) => {
  t.equal(metadataFileName('root', 3), '3.root.json');
  t.equal(metadataFileName('timestamp', 9), 'timestamp.json');
  t.equal(metadataFileName('arcserve-backup~19.0', 2), '2.arcserve-backup~19.0.json');
  t.equal(metadataFileName('a product~19 SP1', 1), '1.a%20product~19%20SP1.json');
  t.throws(() => metadataFileName('targets', 0), RangeError);
  t.same(parseMetadataFileName('12.arcserve-backup~19.0.json'), {
    role: 'arcserve-backup~19.0',
    version: 12,
  });
  t.same(parseMetadataFileName('1.a%20product~19%20SP1.json'), { role: 'a product~19 SP1', version: 1 });
  t.equal(parseMetadataFileName('root.json'), undefined);
  t.equal(parseMetadataFileName('timestamp.json'), undefined);
  t.equal(parseMetadataFileName('01.root.json'), undefined, 'one spelling per version');
  t.equal(parseMetadataFileName('1.a product.json'), undefined, 'one spelling per role');
  t.equal(snapshotMetaKey('arcserve-backup~19.0'), 'arcserve-backup~19.0.json');
});

t.test('consistent-snapshot target path: the SHA-256 prefixes the base name', async (t) => {
  const hex = 'a'.repeat(64);
  t.equal(
    consistentTargetPath('arcserve-backup/19.0/T5KB0042/T5KB0042.sh', hex),
    `arcserve-backup/19.0/T5KB0042/${hex}.T5KB0042.sh`,
  );
  t.equal(consistentTargetPath('top.txt', hex), `${hex}.top.txt`);
});
