// Cross-check with a second, independent TUF client: python-tuf's ngclient 3.1.x reads a
// repository made by patchbay-publish (root rotated twice, starting from 1.root.json).
// Optional: runs only when PATCHBAY_PYTHON_TUF names a python-tuf 3.1.x source tree (its
// `tuf` package) and PATCHBAY_PYTHON (default /usr/bin/python3) can import securesystemslib
// (Debian: apt-get install python3-securesystemslib python3-requests python3-nacl python3-cryptography).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publish, serveDirectory, writePatch } from './fixtures/publish.js';

const python = process.env.PATCHBAY_PYTHON ?? '/usr/bin/python3';
const source = process.env.PATCHBAY_PYTHON_TUF;
const script = fileURLToPath(new URL('./fixtures/python-tuf-client.py', import.meta.url));

function unavailable(): string | false {
  if (!source) return 'set PATCHBAY_PYTHON_TUF to a python-tuf 3.1.x source tree to run this cross-check';
  const probe = spawnSync(python, ['-c', 'import tuf.ngclient, securesystemslib'], {
    env: { ...process.env, PYTHONPATH: source },
    encoding: 'utf8',
  });
  return probe.status === 0
    ? false
    : `${python} cannot import python-tuf from ${source}: ${probe.stderr.trim()}`;
}

async function runPython(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(python, args, {
    env: { ...process.env, PYTHONPATH: source },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  return { status, stdout, stderr };
}

t.test(
  'python-tuf ngclient follows the root chain and verifies a download',
  { skip: unavailable() },
  async (t) => {
    const dir = t.testdir();
    const repo = join(dir, 'repo');
    const keys = join(dir, 'keys');
    const init = await publish(['--json', 'init', '--repo', repo, '--keys', keys, '--vendor', 'Arcserve']);
    t.equal(init.status, 0, init.stderr);
    const patch = await writePatch(dir);
    t.equal(
      (await publish(['add', '--repo', repo, '--keys', keys, '--patch', patch.patchFile, ...patch.files]))
        .status,
      0,
    );
    let previous = (init.json as { roles: { root: { keys: { keyId: string }[] } } }).roles.root.keys[0]!
      .keyId;
    for (const name of ['root-b', 'root-c']) {
      const made = await publish(['--json', 'keygen', '--keys', keys, '--name', name]);
      const rotated = await publish([
        'rotate',
        '--repo',
        repo,
        '--keys',
        keys,
        '--role',
        'root',
        '--add-key',
        join(keys, `${name}.pub`),
        '--remove-key',
        previous,
      ]);
      t.equal(rotated.status, 0, rotated.stderr);
      previous = made.json.keyId as string;
    }

    const { url, server } = await serveDirectory(repo);
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const metadataDir = join(dir, 'py-metadata');
    const downloads = join(dir, 'py-downloads');
    await mkdir(metadataDir);
    await mkdir(downloads);
    await copyFile(join(repo, 'metadata', '1.root.json'), join(metadataDir, 'root.json'));

    for (const [target, check] of [
      [
        'arcserve-backup/19.0/T5KB0042.json',
        (out: { custom: unknown }) => t.match(out.custom, { patchbay: { patch: { id: 'T5KB0042' } } }),
      ],
      [
        'arcserve-backup/19.0/T5KB0042/T5KB0042.sh',
        async (out: { path: string }) => t.same(await readFile(out.path), await readFile(patch.files[0]!)),
      ],
    ] as const) {
      // Asynchronously: the repository is served from this very process.
      const run = await runPython([script, metadataDir, url, target, downloads]);
      t.equal(run.status, 0, run.stderr);
      const out = JSON.parse(run.stdout) as { rootVersion: number; custom: unknown; path: string };
      t.equal(out.rootVersion, 3, 'walked 1 -> 2 -> 3');
      await check(out as never);
    }
  },
);
