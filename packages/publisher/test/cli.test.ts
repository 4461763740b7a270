import t from 'tap';
import { chmod, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readMetadata } from '@patchbay/core/tuf';
import { publish, writePatch } from './fixtures/publish.js';

// These run the real bin, which loads dist/: build first (npx tsc -b packages/publisher).

t.test('init + add + verify: a repository in the documented layout', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  const keys = join(dir, 'keys');
  const init = await publish(['init', '--repo', repo, '--keys', keys, '--vendor', 'Arcserve']);
  t.equal(init.status, 0, init.stderr);
  t.match(
    init.stdout,
    /^new repository in .*repo\n {2}root \(threshold 1\):\n {4}[0-9a-f]{64} {2}.*root-1\.key\n/,
  );
  t.match(init.stdout, /wrote metadata\/timestamp\.json \(1\/1 signature\)/);
  t.same((await readdir(keys)).sort(), [
    'root-1.key',
    'root-1.pub',
    'snapshot.key',
    'snapshot.pub',
    'targets-1.key',
    'targets-1.pub',
    'timestamp.key',
    'timestamp.pub',
  ]);
  if (process.platform !== 'win32') t.equal((await stat(join(keys, 'root-1.key'))).mode & 0o777, 0o600);
  t.notMatch(init.stdout + init.stderr, /PRIVATE KEY/, 'no private key printed');

  const patch = await writePatch(dir);
  const added = await publish([
    '--json',
    'add',
    '--repo',
    repo,
    '--keys',
    keys,
    '--patch',
    patch.patchFile,
    ...patch.files,
  ]);
  t.equal(added.status, 0, added.stderr);
  t.match(added.json, { ok: true, patch: 'T5KB0042', role: 'arcserve-backup~19.0', outcome: 'added' });
  t.same(
    (added.json.written as { file: string }[]).map((w) => w.file),
    ['1.arcserve-backup~19.0.json', '2.targets.json', '2.snapshot.json', 'timestamp.json'],
  );
  const role = (await readMetadata(repo, 'arcserve-backup~19.0'))!;
  t.same(Object.keys(role.signed.targets).sort(), [
    'arcserve-backup/19.0/T5KB0042.json',
    'arcserve-backup/19.0/T5KB0042/T5KB0042.sh',
  ]);
  const descriptor = role.signed.targets['arcserve-backup/19.0/T5KB0042.json']!;
  t.match(descriptor.custom, {
    patchbay: { patch: { id: 'T5KB0042', install: { command: ['sh', '{file:T5KB0042.sh}', 'install'] } } },
  });
  const targets = (await readMetadata(repo, 'targets'))!;
  t.same(targets.signed.unrecognizedFields['x-patchbay'], {
    vendor: 'Arcserve',
    products: [{ id: 'arcserve-backup', name: 'arcserve-backup', releases: ['19.0'] }],
  });

  const verified = await publish(['verify', repo]);
  t.equal(verified.status, 0, verified.stdout);
  t.match(verified.stdout, /verified — root version 1, 1 delegated role, 1 patch, 2 target files/);

  // The same patch again changes nothing; a changed file replaces the patch's targets.
  const again = await publish([
    'add',
    '--repo',
    repo,
    '--keys',
    keys,
    '--patch',
    patch.patchFile,
    ...patch.files,
  ]);
  t.match(again.stdout, /T5KB0042: already published in role arcserve-backup~19\.0, unchanged/);
  t.equal((await readMetadata(repo, 'targets'))!.signed.version, 2);
  await writeFile(patch.files[0]!, '#!/bin/sh\necho v2\n');
  const replaced = await publish([
    '--json',
    'add',
    '--repo',
    repo,
    '--keys',
    keys,
    '--patch',
    patch.patchFile,
    ...patch.files,
  ]);
  t.match(replaced.json, { outcome: 'replaced' });
  const role2 = (await readMetadata(repo, 'arcserve-backup~19.0'))!;
  t.equal(role2.signed.version, 2);
  t.equal(Object.keys(role2.signed.targets).length, 2, 'old targets replaced, not added to');
  t.equal((await publish(['verify', repo])).status, 0);

  // Another product: added to x-patchbay, its own role.
  const udp = await writePatch(dir, { id: 'T5UD0301', product: 'arcserve-udp', release: '9.0' });
  const udpAdd = await publish([
    'add',
    '--repo',
    repo,
    '--keys',
    keys,
    '--patch',
    udp.patchFile,
    '--product-name',
    'Arcserve UDP',
    ...udp.files,
  ]);
  t.equal(udpAdd.status, 0, udpAdd.stderr);
  t.same((await readMetadata(repo, 'targets'))!.signed.unrecognizedFields['x-patchbay'], {
    vendor: 'Arcserve',
    products: [
      { id: 'arcserve-backup', name: 'arcserve-backup', releases: ['19.0'] },
      { id: 'arcserve-udp', name: 'Arcserve UDP', releases: ['9.0'] },
    ],
  });
  const final = await publish(['--json', 'verify', repo]);
  t.match(final.json, { ok: true, roles: { 'arcserve-backup~19.0': 2, 'arcserve-udp~9.0': 1 }, patches: 2 });
});

t.test('bad usage exits 2 and says why', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  const keys = join(dir, 'keys');
  for (const [args, why] of [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['init', '--keys', keys], /required option '--repo <dir>' not specified/],
    [['init', '--repo', repo, '--keys', keys, '--root-keys', 'two'], /--root-keys must be an integer >= 0/],
    [
      ['init', '--repo', repo, '--keys', keys, '--root-keys', '2', '--root-threshold', '3'],
      /--root-threshold must be between 1 and the 2 root key/,
    ],
    [
      ['init', '--repo', repo, '--keys', keys, '--expires', 'root=soon'],
      /--expires: "root=soon" is not ROLE=DURATION/,
    ],
    [['verify', dir, '--at', 'yesterday'], /--at yesterday is not an RFC 3339 time/],
    [
      ['rotate', '--repo', repo, '--keys', keys, '--role', 'mirror'],
      /^patchbay-publish: option '--role <role>' argument 'mirror' is invalid\. Allowed choices are root, targets, snapshot, timestamp\.\npatchbay-publish: hint: run "patchbay-publish rotate --help" for usage\n$/,
    ],
  ] as [string[], RegExp][]) {
    const run = await publish(args);
    t.equal(run.status, 2, args.join(' '));
    t.match(run.stderr, why, args.join(' '));
  }
  t.equal((await publish(['--help'])).status, 0);
  t.match((await publish(['--help'])).stdout, /import-feed/);
  const initHelp = await publish(['init', '--help']);
  t.equal(initHelp.status, 0);
  t.match(initHelp.stdout, /^Usage: patchbay-publish init \[options\][^]*--root-threshold <k>/);
  // a usage error under --json: the error document on stdout too, wherever --json stands
  const unknown = await publish(['frobnicate', '--json']);
  t.equal(unknown.status, 2);
  t.match(JSON.parse(unknown.stdout), {
    ok: false,
    error: { code: 'PB_ERR_USAGE', message: "unknown command 'frobnicate'" },
  });

  t.equal((await publish(['init', '--repo', repo, '--keys', keys])).status, 0);
  const twice = await publish(['init', '--repo', repo, '--keys', join(dir, 'other-keys')]);
  t.equal(twice.status, 1);
  t.match(twice.stderr, /already holds a repository/);
  const noVendor = await writePatch(dir);
  const add = await publish([
    'add',
    '--repo',
    repo,
    '--keys',
    keys,
    '--patch',
    noVendor.patchFile,
    ...noVendor.files,
  ]);
  t.equal(add.status, 2);
  t.match(add.stderr, /--vendor is required: the repository names no vendor yet/);
  const badPatch = await writePatch(dir, { id: 'T5KB0043', severity: 'urgent' });
  const bad = await publish([
    'add',
    '--repo',
    repo,
    '--keys',
    keys,
    '--vendor',
    'V',
    '--patch',
    badPatch.patchFile,
    ...badPatch.files,
  ]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /\/severity must be one of "critical", "recommended", "optional"/);
  const extra = await publish([
    'add',
    '--repo',
    repo,
    '--keys',
    keys,
    '--vendor',
    'V',
    '--patch',
    noVendor.patchFile,
    ...noVendor.files,
    badPatch.files[0]!,
  ]);
  t.equal(extra.status, 2);
  t.match(extra.stderr, /T5KB0043\.sh is not among the files --patch .* names/);
});

t.test('init --existing-keys: keys made beforehand with keygen make the same root', async (t) => {
  const dir = t.testdir();
  const keys = join(dir, 'keys');
  for (const name of ['root-1', 'targets-1', 'snapshot', 'timestamp']) {
    t.equal((await publish(['keygen', '--keys', keys, '--name', name])).status, 0, name);
  }
  const roots: unknown[] = [];
  for (const repo of ['a', 'b']) {
    const init = await publish([
      '--json',
      'init',
      '--repo',
      join(dir, repo),
      '--keys',
      keys,
      '--existing-keys',
      '--vendor',
      'V',
    ]);
    t.equal(init.status, 0, init.stderr);
    t.match(init.json, {
      roles: { targets: { keys: [{ privateKeyFile: join(keys, 'targets-1.key') }] } },
    });
    const root = (await readMetadata(join(dir, repo), 'root'))!;
    roots.push({ keys: root.signed.keys, roles: root.signed.roles });
    t.equal((await publish(['verify', join(dir, repo)])).status, 0, `${repo} verifies`);
  }
  t.same(roots[0], roots[1], 'both roots list the same keys for the same roles');
  t.same((await readdir(keys)).length, 8, 'no key written');

  const missing = await publish([
    'init',
    '--repo',
    join(dir, 'c'),
    '--keys',
    keys,
    '--existing-keys',
    '--targets-keys',
    '2',
  ]);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /targets-2\.key does not exist; --existing-keys takes/);
  await writeFile(join(keys, 'snapshot.pub'), await readFile(join(keys, 'timestamp.pub')));
  const mismatch = await publish(['init', '--repo', join(dir, 'd'), '--keys', keys, '--existing-keys']);
  t.equal(mismatch.status, 2);
  t.match(mismatch.stderr, /snapshot\.pub is not the public key of .*snapshot\.key/);
  t.notOk(existsSync(join(dir, 'd', 'metadata', '1.root.json')), 'nothing written');
});

t.test(
  'a private key that others can read is refused, saying chmod 600',
  { skip: process.platform === 'win32' },
  async (t) => {
    const dir = t.testdir();
    const repo = join(dir, 'repo');
    const keys = join(dir, 'keys');
    t.equal((await publish(['init', '--repo', repo, '--keys', keys, '--vendor', 'V'])).status, 0);
    await chmod(join(keys, 'targets-1.key'), 0o644);
    const run = await publish(['snapshot', '--repo', repo, '--keys', keys]);
    t.equal(run.status, 2);
    t.match(run.stderr, /targets-1\.key is readable by group or others \(mode 644\); fix it with: chmod 600/);
    t.equal((await readMetadata(repo, 'snapshot'))!.signed.version, 1, 'nothing written');
  },
);

t.test('snapshot and timestamp re-sign with new versions; verify --at sees expiry', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  const keys = join(dir, 'keys');
  t.equal(
    (await publish(['init', '--repo', repo, '--keys', keys, '--vendor', 'V', '--expires', 'timestamp=1d']))
      .status,
    0,
  );
  const ts = await publish(['timestamp', '--repo', repo, '--keys', keys]);
  t.equal(ts.status, 0, ts.stderr);
  t.match(ts.stdout, /^wrote metadata\/timestamp\.json \(1\/1 signature\)\n$/);
  t.equal((await readMetadata(repo, 'timestamp'))!.signed.version, 2);
  const snap = await publish(['snapshot', '--repo', repo, '--keys', keys]);
  t.match(snap.stdout, /wrote metadata\/2\.snapshot\.json[\s\S]*wrote metadata\/timestamp\.json/);
  t.equal((await readMetadata(repo, 'timestamp'))!.signed.snapshotMeta.version, 2);
  t.equal((await publish(['verify', repo])).status, 0);
  const late = await publish(['verify', repo, '--at', new Date(Date.now() + 3 * 86_400_000).toISOString()]);
  t.equal(late.status, 1);
  t.match(late.stdout, /timestamp\.json: version 3 expired at/);
  const settings = JSON.parse(await readFile(join(repo, 'publisher.json'), 'utf8')) as {
    expires: Record<string, number>;
  };
  t.same(settings.expires, { root: 365, targets: 90, snapshot: 14, timestamp: 1 });
});
