// init --targets-key: a root for signing.targets "mirror", whose targets key is held elsewhere
// (a staging server's online.key.pub): nothing generated or signed with it here, root only.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyIdOf, readMetadata } from '@patchbay/core/tuf';
import { publish } from './fixtures/publish.js';

t.test(
  'init --targets-key --online-key: a root listing the online key for targets, snapshot and timestamp',
  async (t) => {
    const dir = t.testdir();
    const { publicKey } = generateKeyPairSync('ed25519');
    const pub = join(dir, 'online.key.pub');
    await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const keys = join(dir, 'keys');
    const repo = join(dir, 'org');
    const init = await publish([
      '--json',
      'init',
      '--repo',
      repo,
      '--keys',
      keys,
      '--targets-key',
      pub,
      '--online-key',
      pub,
    ]);
    t.equal(init.status, 0, init.stderr);
    const id = keyIdOf(publicKey);
    const root = (await readMetadata(repo, 'root'))!;
    for (const role of ['targets', 'snapshot', 'timestamp']) {
      t.same(root.signed.roles[role]!.keyIDs, [id], `${role}: the online key only`);
      t.equal(root.signed.roles[role]!.threshold, 1);
    }
    t.same((await readdir(join(repo, 'metadata'))).sort(), ['1.root.json', 'root.json'], 'root only');
    t.same((await readdir(keys)).sort(), ['root-1.key', 'root-1.pub'], 'only the root key was generated');
    t.match(init.json, {
      roles: { targets: { keys: [{ keyId: id, privateKeyFile: null, publicKeyFile: pub }] } },
    });

    const usage = await publish([
      'init',
      '--repo',
      join(dir, 'other'),
      '--keys',
      join(dir, 'keys2'),
      '--targets-key',
      pub,
      '--targets-threshold',
      '2',
    ]);
    t.equal(usage.status, 2);
    t.match(usage.stderr, /--targets-threshold must be between 1 and the 1 --targets-key/);
  },
);
