// An independent client: tuf-js 5's Updater, holding only 1.root.json, reads a repository made
// by patchbay-publish over loopback HTTP, walks the rotated roots and verifies a download.
import t, { type Test } from 'tap';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { consistentTargetPath, readMetadata } from '@patchbay/core/tuf';
import { publish, serveDirectory, writePatch } from './fixtures/publish.js';

interface InitJson {
  roles: Record<string, { keys: { keyId: string }[] }>;
}

async function updaterFor(t: Test, repo: string, dir: string) {
  const { url, server, requests } = await serveDirectory(repo);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const metadataDir = join(dir, 'client-metadata');
  const targetDir = join(dir, 'client-targets');
  await mkdir(metadataDir, { recursive: true });
  await mkdir(targetDir, { recursive: true });
  // The deployment ships the first root only.
  await copyFile(join(repo, 'metadata', '1.root.json'), join(metadataDir, 'root.json'));
  const updater = new Updater({
    metadataDir,
    metadataBaseUrl: `${url}/metadata`,
    targetDir,
    targetBaseUrl: `${url}/targets`,
    config: { fetchRetries: 0 },
  });
  return { updater, requests, metadataDir, targetDir };
}

t.test(
  'init + add + rotate root A->B->C: tuf-js follows the chain from 1.root.json and verifies a download',
  async (t) => {
    const dir = t.testdir();
    const repo = join(dir, 'repo');
    const keys = join(dir, 'keys');
    const init = await publish(['--json', 'init', '--repo', repo, '--keys', keys, '--vendor', 'Arcserve']);
    t.equal(init.status, 0, init.stderr);
    const rootA = (init.json as unknown as InitJson).roles.root!.keys[0]!.keyId;
    const patch = await writePatch(dir, {}, 'echo "installing T5KB0042"\n');
    const other = await writePatch(dir, { id: 'T5UD0301', product: 'arcserve-udp', release: '9.0' });
    for (const p of [patch, other]) {
      const added = await publish([
        'add',
        '--repo',
        repo,
        '--keys',
        keys,
        '--patch',
        p.patchFile,
        ...p.files,
      ]);
      t.equal(added.status, 0, added.stderr);
    }

    const b = await publish(['--json', 'keygen', '--keys', keys, '--name', 'root-b']);
    const rotate1 = await publish([
      '--json',
      'rotate',
      '--repo',
      repo,
      '--keys',
      keys,
      '--role',
      'root',
      '--add-key',
      join(keys, 'root-b.pub'),
      '--remove-key',
      rootA,
    ]);
    t.equal(rotate1.status, 0, rotate1.stderr);
    t.match(rotate1.json, { version: 2, rootComplete: true, rootSignatures: { previous: 1, own: 1 } });
    const rootB = b.json.keyId as string;
    await publish(['keygen', '--keys', keys, '--name', 'root-c']);
    const rotate2 = await publish([
      'rotate',
      '--repo',
      repo,
      '--keys',
      keys,
      '--role',
      'root',
      '--add-key',
      join(keys, 'root-c.pub'),
      '--remove-key',
      rootB,
    ]);
    t.equal(rotate2.status, 0, rotate2.stderr);
    t.match(
      rotate2.stdout,
      /root version 3: root keys [0-9a-f]{64} \(threshold 1\)\n {2}signed by 1\/1 of root version 2's keys and 1\/1 of its own/,
    );
    const root3 = (await readMetadata(repo, 'root'))!;
    t.equal(root3.signed.version, 3);
    t.notOk(root3.signed.keys[rootA], 'key A is gone from the newest root');
    t.equal((await publish(['verify', repo])).status, 0, 'patchbay-publish verify agrees');

    const { updater, requests, metadataDir, targetDir } = await updaterFor(t, repo, dir);
    const info = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042.json');
    t.ok(info, 'the descriptor target is found');
    t.match(info!.custom, {
      patchbay: {
        patch: {
          id: 'T5KB0042',
          product: 'arcserve-backup',
          release: '19.0',
          files: [{ name: 'T5KB0042.sh' }],
        },
      },
    });
    const trusted = JSON.parse(await readFile(join(metadataDir, 'root.json'), 'utf8')) as {
      signed: { version: number };
    };
    t.equal(trusted.signed.version, 3, 'the client now trusts root version 3');
    t.ok(requests.includes('/metadata/2.root.json') && requests.includes('/metadata/3.root.json'));
    t.ok(requests.includes('/metadata/4.root.json'), 'and asked for a version 4 (404: none)');
    t.notOk(
      requests.some((r) => r.includes('arcserve-udp')),
      "another product's role is never fetched",
    );

    const descriptorPath = await updater.downloadTarget(info!, join(targetDir, 'T5KB0042.json'));
    const fileInfo = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh');
    t.ok(fileInfo);
    const downloaded = await updater.downloadTarget(fileInfo!, join(targetDir, 'T5KB0042.sh'));
    t.same(
      await readFile(downloaded),
      await readFile(patch.files[0]!),
      'downloadTarget verified and stored the file',
    );
    t.ok(JSON.parse(await readFile(descriptorPath, 'utf8')), 'descriptor bytes are JSON');

    // Bytes that differ from the signed hash are refused by the client.
    const sha = fileInfo!.hashes.sha256!;
    await writeFile(
      join(repo, 'targets', ...consistentTargetPath(fileInfo!.path, sha).split('/')),
      '#!/bin/sh\nrm -rf /\n',
    );
    await t.rejects(updater.downloadTarget(fileInfo!, join(targetDir, 'evil.sh')), /Expected (hash|length)/);
  },
);

t.test(
  'rotate targets: root N+1 names the new targets key; targets and roles are re-signed with it',
  async (t) => {
    const dir = t.testdir();
    const repo = join(dir, 'repo');
    const keys = join(dir, 'keys');
    const init = await publish(['--json', 'init', '--repo', repo, '--keys', keys, '--vendor', 'Arcserve']);
    const targetsA = (init.json as unknown as InitJson).roles.targets!.keys[0]!.keyId;
    const patch = await writePatch(dir);
    t.equal(
      (await publish(['add', '--repo', repo, '--keys', keys, '--patch', patch.patchFile, ...patch.files]))
        .status,
      0,
    );
    const fresh = await publish(['--json', 'keygen', '--keys', keys, '--name', 'targets-2']);
    const rotated = await publish([
      '--json',
      'rotate',
      '--repo',
      repo,
      '--keys',
      keys,
      '--role',
      'targets',
      '--add-key',
      join(keys, 'targets-2.pub'),
      '--remove-key',
      targetsA,
    ]);
    t.equal(rotated.status, 0, rotated.stderr);
    t.same(
      (rotated.json.written as { file: string }[]).map((w) => w.file),
      ['2.root.json', '2.arcserve-backup~19.0.json', '3.targets.json', '3.snapshot.json', 'timestamp.json'],
    );
    const role = (await readMetadata(repo, 'arcserve-backup~19.0'))!;
    t.same(
      Object.keys(role.signatures),
      [fresh.json.keyId],
      'the delegated role is signed by the new key only',
    );
    const targets = (await readMetadata(repo, 'targets'))!;
    t.same(targets.signed.delegations!.roles!['arcserve-backup~19.0']!.keyIDs, [fresh.json.keyId]);
    t.equal((await publish(['verify', repo])).status, 0);

    const { updater } = await updaterFor(t, repo, dir);
    const info = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh');
    t.ok(info, 'tuf-js accepts the re-keyed targets and role');
  },
);
