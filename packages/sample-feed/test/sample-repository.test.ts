// The bundled sample TUF repository (docs/sample-feed.md): made by `npm run build` with the
// publisher's code and the committed DEMO keys, it passes `patchbay-publish verify`; a rebuild of
// an unchanged feed writes nothing; near expiry the build re-signs snapshot and timestamp; the
// DEMO private keys end up 0600.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyIdOf, readPublicKeyFile } from '@patchbay/core/tuf';
import {
  defaultSampleRepositoryDir,
  demoKeysDir,
  demoPublisherKeyFiles,
  defaultSampleFeedDir,
} from '../src/paths.js';
import { generateSampleFeed } from '../src/sample-feed.js';
import { buildSampleRepository, secureDemoKeys } from '../src/sample-repository.js';

// These run the real bins, which load dist/: build first (npm run build).
const PUBLISH = fileURLToPath(new URL('../../publisher/bin/patchbay-publish.js', import.meta.url));
const SAMPLE_FEED = fileURLToPath(new URL('../bin/patchbay-sample-feed.js', import.meta.url));
const DAY_MS = 24 * 60 * 60 * 1000;

function run(bin: string, args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface RootJson {
  signed: { roles: Record<string, { keyids: string[] }>; expires: string };
}

async function readRoot(repo: string): Promise<RootJson> {
  return JSON.parse(await readFile(join(repo, 'metadata', '1.root.json'), 'utf8')) as RootJson;
}

/** Every *.key below `dir`. */
async function privateKeyFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.key'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

t.test('the bundled repository passes patchbay-publish verify and is signed by the DEMO keys', async (t) => {
  const repo = defaultSampleRepositoryDir();
  const verified = run(PUBLISH, ['--json', 'verify', repo]);
  t.equal(verified.status, 0, `patchbay-publish verify ${repo}: ${verified.stdout}${verified.stderr}`);
  const doc = JSON.parse(verified.stdout) as { ok: boolean; root: number; patches: number; roles: object };
  t.match(doc, { ok: true, root: 1, patches: 29 });
  t.same(Object.keys(doc.roles).sort(), ['arcserve-backup~18.0', 'arcserve-backup~19.0', 'arcserve-udp~9.0']);

  const keys = demoPublisherKeyFiles();
  const id = async (file: string) => keyIdOf(await readPublicKeyFile(file));
  const online = await id(keys.onlinePublicKey);
  const { roles } = (await readRoot(repo)).signed;
  t.same(roles.root!.keyids, [await id(join(keys.keysDir, 'root-1.pub'))], 'root: the DEMO root key');
  t.same(
    roles.targets!.keyids,
    [await id(join(keys.keysDir, 'targets-1.pub'))],
    'targets: the DEMO targets key',
  );
  t.same(
    roles.snapshot!.keyids,
    [await id(join(keys.keysDir, 'snapshot.pub')), online],
    'snapshot: + online',
  );
  t.same(
    roles.timestamp!.keyids,
    [await id(join(keys.keysDir, 'timestamp.pub')), online],
    'timestamp: + online',
  );
});

t.test(
  'the committed DEMO private keys are mode 0600 after the build',
  { skip: process.platform === 'win32' ? 'no mode bits' : false },
  async (t) => {
    const files = await privateKeyFiles(demoKeysDir());
    t.same(
      files.map((f) => f.slice(demoKeysDir().length + 1)),
      [
        'publisher/root-1.key',
        'publisher/snapshot.key',
        'publisher/targets-1.key',
        'publisher/timestamp.key',
        'staging-server/online.key',
        'vendor-demo.key',
      ].map((f) => f.split('/').join(process.platform === 'win32' ? '\\' : '/')),
    );
    for (const file of files) t.equal((await stat(file)).mode & 0o777, 0o600, file);
  },
);

t.test(
  'secureDemoKeys sets every *.key below a directory to 0600 and leaves the rest alone',
  { skip: process.platform === 'win32' ? 'no mode bits' : false },
  async (t) => {
    const dir = t.testdir();
    await mkdir(join(dir, 'publisher'));
    for (const file of [
      'vendor-demo.key',
      'vendor-demo.pub',
      'publisher/root-1.key',
      'publisher/root-1.pub',
    ]) {
      await copyFile(join(demoKeysDir(), file), join(dir, file));
      await chmod(join(dir, file), 0o644);
    }
    t.same(await secureDemoKeys(dir), [join(dir, 'publisher/root-1.key'), join(dir, 'vendor-demo.key')]);
    const mode = async (file: string) => (await stat(join(dir, file))).mode & 0o777;
    t.equal(await mode('vendor-demo.key'), 0o600);
    t.equal(await mode('publisher/root-1.key'), 0o600);
    t.equal(await mode('vendor-demo.pub'), 0o644, 'public keys stay readable');
    t.same(await secureDemoKeys(dir), [], 'nothing to do the second time');
  },
);

t.test('made from a feed: verifies, a rebuild writes nothing, near expiry it renews', async (t) => {
  const dir = t.testdir();
  const feedDir = join(dir, 'feed');
  const outDir = join(dir, 'repository');
  await generateSampleFeed({ outDir: feedDir });
  const now = new Date();
  // made 340 days ago: snapshot and timestamp (365 days) expire in 25 days
  const made = await buildSampleRepository({ feedDir, outDir, now: new Date(now.getTime() - 340 * DAY_MS) });
  t.match(made, {
    created: true,
    renewed: false,
    patches: 29,
    versions: { root: 1, targets: 2, snapshot: 2 },
  });
  t.ok(made.written.includes('1.root.json') && made.written.includes('2.targets.json'), 'init and import');
  t.same(
    (await readRoot(outDir)).signed.roles,
    (await readRoot(defaultSampleRepositoryDir())).signed.roles,
    'the same DEMO keys as the bundled repository',
  );
  const verified = run(PUBLISH, ['verify', outDir]);
  t.equal(verified.status, 0, verified.stdout);

  const renewed = await buildSampleRepository({ feedDir, outDir, now });
  t.match(renewed, {
    created: false,
    renewed: true,
    versions: { root: 1, targets: 2, snapshot: 3, timestamp: 3 },
  });
  t.same(renewed.written, ['3.snapshot.json', 'timestamp.json'], 'only the snapshot and timestamp re-signed');
  t.ok(Date.parse(renewed.expires) > now.getTime() + 360 * DAY_MS, 'valid for another year');

  const snapshotFile = join(outDir, 'metadata', '3.snapshot.json');
  const before = (await stat(snapshotFile)).mtimeMs;
  const again = await buildSampleRepository({ feedDir, outDir, now: new Date(now.getTime() + DAY_MS) });
  t.match(again, { created: false, renewed: false, written: [], versions: { targets: 2, snapshot: 3 } });
  t.equal((await stat(snapshotFile)).mtimeMs, before, 'nothing rewritten');
  t.same(
    (await readdir(join(outDir, 'metadata'))).filter((f) => f.startsWith('4.')),
    [],
    'no version churn',
  );

  // the next publication of the feed: only the changed role, then snapshot and timestamp
  await generateSampleFeed({ outDir: feedDir, sequence: 8, extraPatches: true });
  const next = await buildSampleRepository({ feedDir, outDir, now });
  t.match(next, { renewed: false, patches: 30, versions: { root: 1, targets: 2, snapshot: 4 } });
  t.same(next.written.sort(), ['2.arcserve-backup~19.0.json', '4.snapshot.json', 'timestamp.json']);
});

t.test('patchbay-sample-feed repository: the CLI, and bad usage', async (t) => {
  const dir = t.testdir();
  const outDir = join(dir, 'repository');
  const first = run(SAMPLE_FEED, ['repository', '--feed', defaultSampleFeedDir(), '--out', outDir]);
  t.equal(first.status, 0, first.stderr);
  t.match(
    first.stdout,
    /^sample repository: 29 patches, root version 1, targets version 2, snapshot version 2 in .*repository \(made: 9 metadata files written\); verified, publisher timestamp valid until \d{4}-/,
  );
  const again = run(SAMPLE_FEED, ['--json', 'repository', '--out', outDir]);
  t.equal(again.status, 0, again.stderr);
  t.match(JSON.parse(again.stdout), { created: false, written: [], renewed: false, patches: 29 });

  const bad = run(SAMPLE_FEED, ['repository', '--renew-days', 'soon']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /--renew-days must be an integer >= 0/);
  const noFeed = run(SAMPLE_FEED, ['repository', '--feed', join(dir, 'nowhere'), '--out', join(dir, 'r2')]);
  t.equal(noFeed.status, 1);
  t.match(noFeed.stderr, /cannot make the sample repository in .*r2: patchbay-publish import-feed exited/);
});
