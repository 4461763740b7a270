// k-of-n root signing: the threshold is collected one key at a time with `sign`, and the
// repository verifies only once it is met; keys that are not the role's never count.
import t from 'tap';
import { join } from 'node:path';
import { readMetadata } from '@patchbay/core/tuf';
import { publish, writePatch } from './fixtures/publish.js';

t.test(
  'init --root-keys 3 --root-threshold 2, root signed one key at a time: fails at 1, passes at 2',
  async (t) => {
    const dir = t.testdir();
    const repo = join(dir, 'repo');
    const keys = join(dir, 'keys');
    const init = await publish([
      'init',
      '--repo',
      repo,
      '--keys',
      keys,
      '--vendor',
      'Arcserve',
      '--root-keys',
      '3',
      '--root-threshold',
      '2',
      '--no-sign-root',
    ]);
    t.equal(init.status, 0, init.stderr);
    t.match(
      init.stdout,
      /wrote metadata\/1\.root\.json \(0\/2 signatures\) — below threshold: collect 2 more with patchbay-publish sign --role root/,
    );

    const unsigned = await publish(['verify', repo]);
    t.equal(unsigned.status, 1);
    t.match(unsigned.stdout, /root was signed by 0\/2 keys/);

    const first = await publish([
      'sign',
      '--repo',
      repo,
      '--role',
      'root',
      '--key',
      join(keys, 'root-1.key'),
    ]);
    t.equal(first.status, 0, first.stderr);
    t.match(
      first.stdout,
      /signed root version 1 with key [0-9a-f]{64}\n {2}root version 1: 1\/2 signatures \(1 more needed\)/,
    );
    const atOne = await publish(['verify', repo]);
    t.equal(atOne.status, 1, 'one of two: not trusted');
    t.match(atOne.stdout, /root was signed by 1\/2 keys/);

    const again = await publish([
      'sign',
      '--repo',
      repo,
      '--role',
      'root',
      '--key',
      join(keys, 'root-1.key'),
    ]);
    t.match(again.stdout, /already carries the signature/);
    t.equal((await publish(['verify', repo])).status, 1, 'the same key twice is still one');

    const wrong = await publish([
      'sign',
      '--repo',
      repo,
      '--role',
      'root',
      '--key',
      join(keys, 'targets-1.key'),
    ]);
    t.equal(wrong.status, 1);
    t.match(
      wrong.stderr,
      /key [0-9a-f]{64} \(.*targets-1\.key\) is not one of root's keys .*; nothing signed/,
    );
    t.equal(
      Object.keys((await readMetadata(repo, 'root'))!.signatures).length,
      1,
      'refused key added nothing',
    );

    const second = await publish([
      '--json',
      'sign',
      '--repo',
      repo,
      '--role',
      'root',
      '--key',
      join(keys, 'root-2.key'),
    ]);
    t.match(second.json, {
      role: 'root',
      version: 1,
      added: true,
      complete: true,
      thresholds: [{ signatures: 2, threshold: 2 }],
    });
    const atTwo = await publish(['verify', repo]);
    t.equal(atTwo.status, 0, atTwo.stdout);
  },
);

t.test(
  'root keys held elsewhere: init names their public keys, signs nothing with them; each holder signs',
  async (t) => {
    const dir = t.testdir();
    const repo = join(dir, 'repo');
    const keys = join(dir, 'publisher-keys');
    const holders = [join(dir, 'alice'), join(dir, 'bob')];
    for (const holder of holders) {
      const made = await publish(['keygen', '--keys', holder, '--name', 'root']);
      t.equal(made.status, 0, made.stderr);
    }
    const init = await publish([
      '--json',
      'init',
      '--repo',
      repo,
      '--keys',
      keys,
      '--vendor',
      'Arcserve',
      '--root-keys',
      '0',
      '--root-key',
      join(holders[0]!, 'root.pub'),
      '--root-key',
      join(holders[1]!, 'root.pub'),
      '--root-threshold',
      '2',
    ]);
    t.equal(init.status, 0, init.stderr);
    t.match(init.json, {
      roles: { root: { threshold: 2, keys: [{ privateKeyFile: null }, { privateKeyFile: null }] } },
    });
    t.equal(
      Object.keys((await readMetadata(repo, 'root'))!.signatures).length,
      0,
      'nothing signed by keys held elsewhere',
    );

    // The publisher's work does not wait for the ceremony.
    const patch = await writePatch(dir);
    t.equal(
      (await publish(['add', '--repo', repo, '--keys', keys, '--patch', patch.patchFile, ...patch.files]))
        .status,
      0,
    );

    for (const holder of holders) {
      t.equal(
        (await publish(['sign', '--repo', repo, '--role', 'root', '--key', join(holder, 'root.key')])).status,
        0,
      );
    }
    t.equal((await publish(['verify', repo])).status, 0);

    // Rotation needs both holders too: the publisher alone leaves root 2 below both thresholds.
    const carol = await publish(['--json', 'keygen', '--keys', join(dir, 'carol'), '--name', 'root']);
    const rotated = await publish([
      '--json',
      'rotate',
      '--repo',
      repo,
      '--keys',
      keys,
      '--role',
      'root',
      '--add-key',
      join(dir, 'carol', 'root.pub'),
    ]);
    t.equal(rotated.status, 0, rotated.stderr);
    t.match(rotated.json, {
      version: 2,
      threshold: 2,
      rootComplete: false,
      rootSignatures: { previous: 0, own: 0 },
    });
    t.equal((await publish(['verify', repo])).status, 1, 'root 2 is not yet followable');
    for (const holder of [holders[0]!, join(dir, 'carol')]) {
      t.equal(
        (await publish(['sign', '--repo', repo, '--role', 'root', '--key', join(holder, 'root.key')])).status,
        0,
      );
    }
    // alice (old and new) + carol (new): 1/2 of root 1's keys — still short.
    t.equal((await publish(['verify', repo])).status, 1);
    const bob = await publish([
      '--json',
      'sign',
      '--repo',
      repo,
      '--role',
      'root',
      '--key',
      join(holders[1]!, 'root.key'),
    ]);
    t.match(bob.json, { complete: true });
    const verified = await publish(['--json', 'verify', repo]);
    t.match(verified.json, { ok: true, root: 2 });
    t.ok(carol.json.keyId);
  },
);

t.test(
  'a delegated role signed by k of n targets keys; sign --keys republishes snapshot and timestamp',
  async (t) => {
    const dir = t.testdir();
    const repo = join(dir, 'repo');
    const keys = join(dir, 'keys');
    t.equal(
      (
        await publish([
          'init',
          '--repo',
          repo,
          '--keys',
          keys,
          '--vendor',
          'V',
          '--targets-keys',
          '2',
          '--targets-threshold',
          '2',
        ])
      ).status,
      0,
    );
    // The second targets key is taken away to its holder.
    const { rename, mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'holder'));
    await rename(join(keys, 'targets-2.key'), join(dir, 'holder', 'targets-2.key'));
    const patch = await writePatch(dir);
    const added = await publish([
      'add',
      '--repo',
      repo,
      '--keys',
      keys,
      '--patch',
      patch.patchFile,
      ...patch.files,
    ]);
    t.match(added.stdout, /1\.arcserve-backup~19\.0\.json \(1\/2 signatures\) — below threshold/);
    t.match(added.stdout, /2\.targets\.json \(1\/2 signatures\)/);
    t.equal((await publish(['verify', repo])).status, 1);
    for (const role of ['arcserve-backup~19.0', 'targets']) {
      const signed = await publish([
        'sign',
        '--repo',
        repo,
        '--role',
        role,
        '--key',
        join(dir, 'holder', 'targets-2.key'),
        '--keys',
        keys,
      ]);
      t.equal(signed.status, 0, signed.stderr);
    }
    const verified = await publish(['verify', repo]);
    t.equal(verified.status, 0, verified.stdout);
  },
);
