import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { appendFile, copyFile, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, MetadataKind, Signature, TargetFile } from '@tufjs/models';
import type { Targets } from '@tufjs/models';
import { ErrorCodes } from '../src/errors.js';
import {
  assertVerified,
  consistentTargetPath,
  expiresAfter,
  generateEd25519KeyPair,
  metadataBytes,
  nextVersion,
  readMetadata,
  tufKey,
  verifyRepository,
  writeMetadata,
  type VerifyResult,
} from '../src/tuf/index.js';
import {
  FILE_BYTES,
  NOW,
  ROLE,
  buildRepository,
  makeRoot,
  newKeys,
  republish,
  signer,
} from './fixtures/tuf-repo.js';

const at = NOW;
const reasons = (result: VerifyResult) => result.problems.map((p) => `${p.file ?? p.role}: ${p.reason}`);

async function fresh(t: Test) {
  const dir = join(t.testdir(), 'repo');
  const built = await buildRepository(dir);
  return { dir, ...built };
}

t.test('a well-formed repository verifies, from 1.root.json or from a given trusted root', async (t) => {
  const { dir } = await fresh(t);
  const result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
  t.same(reasons(result), []);
  t.ok(result.ok);
  t.equal(result.root?.signed.version, 1);
  t.same([...result.roles.keys()], [ROLE]);
  t.same([...result.files.keys()].sort(), [
    '1.arcserve-backup~19.0.json',
    '1.root.json',
    '1.snapshot.json',
    '1.targets.json',
    'timestamp.json',
  ]);
  t.same(
    result.targetFiles.map((f) => f.targetPath),
    ['arcserve-backup/19.0/T5KB0042.json', 'arcserve-backup/19.0/T5KB0042/T5KB0042.sh'],
  );
  const trusted = await readFile(join(dir, 'metadata', '1.root.json'));
  t.ok((await verifyRepository(dir, { trustedRoot: trusted, now: at })).ok);
  t.doesNotThrow(() => assertVerified(result, dir));

  const none = await verifyRepository(dir, { now: at });
  t.match(reasons(none), [/no trusted root given/]);
  t.throws(() => assertVerified(none, dir), {
    code: ErrorCodes.TUF_VERIFY,
    message: /fails TUF verification \(1 problem\)/,
  });
});

t.test('refused: a delegated role signed by a key that is not its key', async (t) => {
  const { dir, keys, role } = await fresh(t);
  const forged = new Metadata(role.signed);
  forged.sign(signer(keys.targets)); // the top-level targets key, not the delegated role's
  await rm(join(dir, 'metadata', `1.${ROLE}.json`));
  await writeFile(join(dir, 'metadata', `1.${ROLE}.json`), metadataBytes(forged));
  await republish(
    dir,
    keys,
    new Map([
      ['targets', 1],
      [ROLE, 1],
    ]),
    2,
  );
  const result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
  t.notOk(result.ok);
  t.match(reasons(result), [
    new RegExp(
      `1\\.${ROLE}\\.json: signatures do not meet the threshold set by its delegator: ${ROLE} was signed by 0/1 keys`,
    ),
  ]);
  t.notOk(result.roles.has(ROLE));
});

t.test(
  "refused: a top-level role signed by another role's key (in root, but not the timestamp's)",
  async (t) => {
    const { dir, keys } = await fresh(t);
    const timestamp = (await readMetadata(dir, 'timestamp'))!;
    const next = nextVersion(timestamp, expiresAfter(NOW, 2));
    next.sign(signer(keys.snapshot));
    await writeMetadata(dir, 'timestamp', next);
    const result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
    t.match(reasons(result), [
      /timestamp\.json: signatures do not meet the threshold set by root: timestamp was signed by 0\/1 keys/,
    ]);
  },
);

t.test('refused: root below its threshold (1 of 2 signatures)', async (t) => {
  const dir = join(t.testdir(), 'repo');
  const keys = newKeys();
  await buildRepository(dir, keys);
  const second = generateEd25519KeyPair().privateKey;
  const root = makeRoot(keys, { rootKeys: [keys.root, second], rootThreshold: 2 });
  root.sign(signer(keys.root));
  const bytes = metadataBytes(root);
  const result = await verifyRepository(dir, { trustedRoot: bytes, now: at });
  t.match(reasons(result), [
    /trusted root: signatures do not meet the threshold set by root: root was signed by 1\/2 keys/,
  ]);
  root.sign(signer(second));
  t.ok((await verifyRepository(dir, { trustedRoot: metadataBytes(root), now: at })).ok, '2 of 2: trusted');
});

t.test('refused: one key counted twice toward a threshold of 2', async (t) => {
  const dir = join(t.testdir(), 'repo');
  const keys = newKeys();
  await buildRepository(dir, keys);
  const real = tufKey(keys.root);
  // The same public key again under another key id, so two key ids "sign".
  const alias = 'ab'.repeat(32);
  const json = makeRoot(keys).toJSON() as {
    signed: { keys: Record<string, unknown>; roles: Record<string, unknown> };
  };
  json.signed.keys[alias] = real.toJSON();
  json.signed.roles.root = { keyids: [real.keyID, alias], threshold: 2 };
  const root = Metadata.fromJSON(MetadataKind.Root, json as never);
  root.sign(signer(keys.root));
  root.signatures[alias] = new Signature({ keyID: alias, sig: root.signatures[real.keyID]!.sig });
  t.doesNotThrow(() => root.verifyDelegate('root', root), '@tufjs/models alone counts the two key ids');
  const result = await verifyRepository(dir, { trustedRoot: metadataBytes(root), now: at });
  t.notOk(result.ok);
  t.match(reasons(result).join('\n'), /key id abab.* is not the SHA-256 of its key's canonical JSON/);

  // The same signature listed twice under one key id: @tufjs/models refuses the file itself.
  const twice = makeRoot(keys, { rootThreshold: 2 });
  twice.sign(signer(keys.root));
  const twiceJson = twice.toJSON() as { signatures: unknown[] };
  twiceJson.signatures.push(twiceJson.signatures[0]);
  const dup = await verifyRepository(dir, { trustedRoot: Buffer.from(JSON.stringify(twiceJson)), now: at });
  t.match(reasons(dup), [/is not valid root metadata: multiple signatures found for keyid/]);
});

t.test('refused: a root version not signed by the previous root (the chain stops there)', async (t) => {
  const { dir, keys, root } = await fresh(t);
  const newRootKey = generateEd25519KeyPair().privateKey;
  const v2 = nextVersion(root, expiresAfter(NOW, 365), (signed) => {
    const id = tufKey(newRootKey).keyID;
    (signed.keys as Record<string, unknown>)[id] = tufKey(newRootKey).toJSON();
    (signed.roles as Record<string, { keyids: string[] }>).root!.keyids = [id];
  });
  v2.sign(signer(newRootKey));
  await writeMetadata(dir, 'root', v2);
  let result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
  t.match(reasons(result), [/2\.root\.json: signatures do not meet the threshold set by root version 1/]);
  t.equal(result.root?.signed.version, 1, 'trust stays at version 1');

  v2.sign(signer(keys.root));
  await writeMetadata(dir, 'root', v2, { sameVersion: true });
  result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
  t.same(reasons(result), [], 'signed by old and new: followed');
  t.equal(result.root?.signed.version, 2);
});

t.test('refused: a delegated role rolled back (old content under a bumped version)', async (t) => {
  const { dir, keys } = await fresh(t);
  // 2.<role>.json holds the signed version 1 again; the snapshot names version 2.
  await copyFile(join(dir, 'metadata', `1.${ROLE}.json`), join(dir, 'metadata', `2.${ROLE}.json`));
  await republish(
    dir,
    keys,
    new Map([
      ['targets', 1],
      [ROLE, 2],
    ]),
    2,
  );
  const result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
  t.match(reasons(result), [
    new RegExp(`2\\.${ROLE}\\.json: holds version 1, but the snapshot lists version 2 \\(rollback`),
  ]);
  t.notOk(result.roles.has(ROLE));
});

t.test('refused: metadata whose length or hash differs from what snapshot and timestamp list', async (t) => {
  const { dir } = await fresh(t);
  await appendFile(join(dir, 'metadata', '1.targets.json'), ' ');
  await appendFile(join(dir, 'metadata', '1.snapshot.json'), ' ');
  const result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
  t.match(reasons(result), [
    /1\.snapshot\.json: does not match the length or hashes its timestamp lists: Expected length \d+ but got \d+/,
    /1\.targets\.json: does not match the length or hashes its snapshot lists: Expected length/,
  ]);

  // Same length, other bytes: the timestamp's sha256 catches it.
  const { dir: dir2 } = await fresh(t);
  const path = join(dir2, 'metadata', '1.snapshot.json');
  const bytes = await readFile(path);
  await writeFile(
    path,
    Buffer.from(
      bytes.toString('utf8').replace('"_type": "snapshot"', '"_type":  "snapshot"').replace(/\n$/, ''),
    ),
  );
  const hashed = await verifyRepository(dir2, { trustFirstRoot: true, now: at });
  t.match(reasons(hashed), [
    /1\.snapshot\.json: does not match the length or hashes its timestamp lists: Expected hash/,
  ]);
});

t.test('refused: expired roles, against the injected clock', async (t) => {
  const { dir } = await fresh(t);
  t.ok(
    (await verifyRepository(dir, { trustFirstRoot: true, now: new Date(NOW.getTime() + 86_400_000) })).ok,
    'one day on: fresh',
  );
  const late = await verifyRepository(dir, {
    trustFirstRoot: true,
    now: new Date(NOW.getTime() + 3 * 86_400_000),
  });
  t.match(reasons(late), [/timestamp\.json: version 1 expired at 2026-12-03T00:00:00Z/]);
  const later = await verifyRepository(dir, {
    trustFirstRoot: true,
    now: new Date(NOW.getTime() + 100 * 86_400_000),
  });
  t.match(reasons(later).join('\n'), /1\.snapshot\.json: version 1 expired/);
  t.match(reasons(later).join('\n'), /1\.targets\.json: version 1 expired/);
  t.match(reasons(later).join('\n'), new RegExp(`1\\.${ROLE}\\.json: version 1 expired`));
});

t.test('refused: a target file whose bytes differ, or that is missing', async (t) => {
  const { dir, descriptor } = await fresh(t);
  const sha = descriptor.files[0]!.sha256;
  const file = join(
    dir,
    'targets',
    ...consistentTargetPath('arcserve-backup/19.0/T5KB0042/T5KB0042.sh', sha).split('/'),
  );
  const evil = Buffer.from(FILE_BYTES);
  evil[0] = evil[0]! ^ 1;
  await writeFile(file, evil);
  const result = await verifyRepository(dir, { trustFirstRoot: true, now: at });
  t.match(reasons(result), [
    /arcserve-backup\/19\.0\/T5KB0042\/T5KB0042\.sh: target file targets\/.* does not match its length or hashes: Expected hash/,
  ]);
  t.same(
    result.targetFiles.map((f) => f.targetPath),
    ['arcserve-backup/19.0/T5KB0042.json'],
  );
  await rm(file);
  t.match(reasons(await verifyRepository(dir, { trustFirstRoot: true, now: at })), [
    /target file targets\/.* is missing/,
  ]);
  t.ok(
    (await verifyRepository(dir, { trustFirstRoot: true, now: at, checkTargetFiles: false })).ok,
    'metadata alone still verifies',
  );
});

t.test('every reason at once, and a target outside the delegated paths', async (t) => {
  const dir = join(t.testdir(), 'repo');
  const keys = newKeys();
  await buildRepository(dir, keys, {
    mutateRole: (role: Metadata<Targets>) => {
      role.signed.addTarget(
        new TargetFile({ path: 'other-product/1.0/X.json', length: 1, hashes: { sha256: 'a'.repeat(64) } }),
      );
    },
  });
  const result = await verifyRepository(dir, {
    trustFirstRoot: true,
    now: new Date(NOW.getTime() + 3 * 86_400_000),
  });
  const all = reasons(result).join('\n');
  t.match(all, /timestamp\.json: version 1 expired/);
  t.match(
    all,
    new RegExp(`${ROLE}: target other-product/1\\.0/X\\.json is outside the paths delegated to ${ROLE}`),
  );
  t.match(
    all,
    /other-product\/1\.0\/X\.json: target file targets\/other-product\/1\.0\/a{64}\.X\.json is missing/,
  );
});

t.test(
  'a hostile directory: symlinks out of the repository and unsafe target paths are refused, never read',
  async (t) => {
    const base = t.testdir({ 'secret.txt': 'root:x:0:0:secret\n' });
    const secret = join(base, 'secret.txt');
    const dir = join(base, 'repo');
    const keys = newKeys();
    const { descriptor } = await buildRepository(dir, keys, {
      mutateRole: (role) => {
        role.signed.addTarget(
          new TargetFile({
            path: 'arcserve-backup/19.0/../../../x',
            length: 1,
            hashes: { sha256: 'a'.repeat(64) },
          }),
        );
        role.signed.addTarget(
          new TargetFile({
            path: 'arcserve-backup/19.0/Y/y',
            length: 1,
            hashes: { sha256: '../../../../x' },
          }),
        );
      },
    });
    // The patch file becomes a symlink to a secret.
    const sha = descriptor.files[0]!.sha256;
    const file = join(
      dir,
      'targets',
      ...consistentTargetPath('arcserve-backup/19.0/T5KB0042/T5KB0042.sh', sha).split('/'),
    );
    await rm(file);
    await symlink(secret, file);
    const secretHash = createHash('sha256').update('root:x:0:0:secret\n').digest('hex');

    const all = reasons(await verifyRepository(dir, { trustFirstRoot: true, now: at })).join('\n');
    t.match(
      all,
      /T5KB0042\/[0-9a-f]{64}\.T5KB0042\.sh: cannot be read: .*leads outside targets\/ \(a symlink\); not read/,
    );
    t.match(all, /arcserve-backup\/19\.0\/\.\.\/\.\.\/\.\.\/x: is not a safe relative target path/);
    t.match(all, /arcserve-backup\/19\.0\/Y\/y: has no sha256 hash of 64 lowercase hex/);
    t.notMatch(all, /root:x|secret/, 'nothing of the secret file is quoted');
    t.notMatch(all, new RegExp(secretHash), 'nor its hash');

    // So does the snapshot.
    await rm(join(dir, 'metadata', '1.snapshot.json'));
    await symlink(secret, join(dir, 'metadata', '1.snapshot.json'));
    const snap = reasons(await verifyRepository(dir, { trustFirstRoot: true, now: at })).join('\n');
    t.match(
      snap,
      /1\.snapshot\.json: cannot be read: metadata\/1\.snapshot\.json leads outside metadata\/ \(a symlink\); not read/,
    );
    t.notMatch(snap, /root:x/);

    // Bytes that are not JSON are named so, not quoted.
    await rm(join(dir, 'metadata', '1.snapshot.json'));
    await writeFile(join(dir, 'metadata', '1.snapshot.json'), 'root:x:0:0:secret\n');
    const garbage = reasons(await verifyRepository(dir, { trustFirstRoot: true, now: at })).join('\n');
    t.match(garbage, /1\.snapshot\.json: is not valid JSON/);
    t.notMatch(garbage, /root:x/);
  },
);
