// The bundled sample TUF repository (trust v2, docs/sample-feed.md): the sample feed vouched for
// by a publisher with the committed DEMO keys, made by the publisher's own code —
// `patchbay-publish init --existing-keys` once, then `import-feed` on every build — so that
// `npm start` and `npm run demo` run the v2 path with nothing else to set up.
// DEMO KEYS, PUBLIC, NEVER FOR PRODUCTION: anyone can sign anything with them.
import { chmod, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRepository, METADATA_DIR, metadataFileName } from '@patchbay/core/tuf';
import { demoPublisherKeyFiles, demoKeysDir, demoVendorKeyFiles } from './paths.js';
import { SAMPLE_VENDOR } from './sample-patches.js';

/**
 * Expiry periods of the sample repository. Long, because every key that signs it is public:
 * expiry protects nothing here, and a checkout left on disk for months must still start. Hosts
 * never see these snapshot and timestamp: a staging server serves its own, signed with its
 * online key and short-lived (signing.snapshotExpiryDays, signing.timestampExpiryHours).
 */
export const SAMPLE_REPOSITORY_EXPIRES = 'root=3650d,targets=3650d,snapshot=365d,timestamp=365d';

/** The build re-signs the publisher's snapshot and timestamp when either expires within this many days. */
export const DEFAULT_RENEW_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface BuildSampleRepositoryOptions {
  /** the sample feed directory to import (made by generateSampleFeed) */
  feedDir: string;
  /** the repository directory (metadata/, targets/, publisher.json) */
  outDir: string;
  /** the signing clock (default: now) */
  now?: Date;
  /** re-sign snapshot and timestamp when either expires within this many days (default 30) */
  renewDays?: number;
}

export interface SampleRepositoryResult {
  dir: string;
  /** root version 1 was made now (`init`) */
  created: boolean;
  /** the metadata files written by this build (empty: the repository was up to date) */
  written: string[];
  /** the publisher's snapshot and timestamp were re-signed because they were near expiry */
  renewed: boolean;
  /** DEMO private key files whose mode this build set to 0600 */
  securedKeys: string[];
  patches: number;
  versions: { root: number; targets: number; snapshot: number; timestamp: number };
  /** when the first of the snapshot and timestamp expires */
  expires: string;
}

/** A publisher command failed: its exit code and what it said. */
export class PublishError extends Error {
  override name = 'PublishError';
}

/**
 * Make the DEMO private keys mode 0600; returns the files changed. Git keeps no mode but the
 * executable bit, so a checkout leaves them as the umask says (usually 0644), and every key
 * reader (patchbay-publish, the staging server's online key) refuses a private key that group
 * or others can read. The mode is set in place rather than on a copy: the files stay where the
 * bundled configs and the publisher's --keys name them, git sees no change (0600 and 0644 are the
 * same to it), and there is no second copy under data/ that `rm -rf data` would take away
 * (after which `npm start` would fail until the next build). `npm ci` runs the build (the
 * `prepare` script), so a fresh clone is covered before anything reads a key. Not on Windows,
 * which has no mode bits (the readers do not check them there).
 */
export async function secureDemoKeys(dir: string = demoKeysDir()): Promise<string[]> {
  if (process.platform === 'win32') return [];
  const changed: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.key')) continue;
    const file = join(entry.parentPath, entry.name);
    if (((await stat(file)).mode & 0o777) === 0o600) continue;
    await chmod(file, 0o600);
    changed.push(file);
  }
  return changed.sort();
}

/** Run patchbay-publish in this process (`--json`); its document, or PublishError with its output. */
async function runPublish(args: string[], now: Date): Promise<Record<string, unknown>> {
  // Loaded on use: `generate` needs no publisher (the container image runs only that).
  const { main: publish } = await import('@patchbay/publisher');
  let stdout = '';
  let stderr = '';
  const code = await publish(['--json', ...args], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    now: () => now,
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    // no document: the error is on stderr
  }
  if (code !== 0) {
    const problems = (json.problems as { role?: string; file?: string; reason: string }[] | undefined) ?? [];
    const detail = problems.map((p) => `${p.role ?? ''}${p.file ? ` ${p.file}` : ''}: ${p.reason}`);
    const skipped = (json.skipped as { patchId: string; error: string }[] | undefined) ?? [];
    detail.push(...skipped.map((s) => `skipped ${s.patchId}: ${s.error}`));
    throw new PublishError(
      `patchbay-publish ${args[0]} exited ${code}: ${[stderr.trim(), ...detail].filter(Boolean).join('; ')}`,
    );
  }
  return json;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Make or bring up to date the sample TUF repository in `outDir` from the sample feed in
 * `feedDir`, with the publisher's code and the committed DEMO keys:
 * - the DEMO private keys are made 0600 (secureDemoKeys);
 * - without `metadata/1.root.json`: `patchbay-publish init --existing-keys` with the DEMO
 *   publisher keys, the DEMO staging server's online key for snapshot and timestamp, and the
 *   long DEMO expiry periods (SAMPLE_REPOSITORY_EXPIRES);
 * - `patchbay-publish import-feed --vendor-key vendor-demo.pub`: the feed's signature and every
 *   file checked, then only what changed is written (an unchanged feed writes nothing);
 * - `patchbay-publish snapshot` when the snapshot or timestamp expires within `renewDays`;
 * - `patchbay-publish verify --at now+renewDays`: the repository must still verify then.
 */
export async function buildSampleRepository(
  opts: BuildSampleRepositoryOptions,
): Promise<SampleRepositoryResult> {
  const now = opts.now ?? new Date();
  const renewDays = opts.renewDays ?? DEFAULT_RENEW_DAYS;
  const keys = demoPublisherKeyFiles();
  const securedKeys = await secureDemoKeys();
  const written: string[] = [];
  const files = (doc: Record<string, unknown>) =>
    ((doc.written as { file: string }[] | undefined) ?? []).map((w) => w.file);

  const created = !(await exists(join(opts.outDir, METADATA_DIR, metadataFileName('root', 1))));
  if (created) {
    const init = await runPublish(
      [
        'init',
        '--repo',
        opts.outDir,
        '--keys',
        keys.keysDir,
        '--existing-keys',
        '--online-key',
        keys.onlinePublicKey,
        '--vendor',
        SAMPLE_VENDOR,
        '--expires',
        SAMPLE_REPOSITORY_EXPIRES,
      ],
      now,
    );
    written.push(...files(init));
  }
  const imported = await runPublish(
    [
      'import-feed',
      '--feed',
      opts.feedDir,
      '--vendor-key',
      demoVendorKeyFiles().publicKey,
      '--repo',
      opts.outDir,
      '--keys',
      keys.keysDir,
    ],
    now,
  );
  written.push(...files(imported));

  const expiresFirst = async () => {
    const repo = await loadRepository(opts.outDir);
    const first = [repo.snapshot.signed.expires, repo.timestamp.signed.expires].sort()[0]!;
    return first;
  };
  let renewed = false;
  if (Date.parse(await expiresFirst()) - now.getTime() < renewDays * DAY_MS) {
    const refreshed = await runPublish(['snapshot', '--repo', opts.outDir, '--keys', keys.keysDir], now);
    written.push(...files(refreshed));
    renewed = true;
  }

  const at = new Date(now.getTime() + renewDays * DAY_MS).toISOString();
  let verified: Record<string, unknown>;
  try {
    verified = await runPublish(['verify', opts.outDir, '--at', at], now);
  } catch (err) {
    throw new PublishError(
      `${(err as Error).message}. The sample repository in ${opts.outDir} will not verify on ${at}: ` +
        `remove it (and the data directories that mirrored it) and build again`,
    );
  }
  return {
    dir: opts.outDir,
    created,
    written: [...new Set(written)],
    renewed,
    securedKeys,
    patches: verified.patches as number,
    versions: {
      root: verified.root as number,
      targets: verified.targets as number,
      snapshot: verified.snapshot as number,
      timestamp: verified.timestamp as number,
    },
    expires: await expiresFirst(),
  };
}
