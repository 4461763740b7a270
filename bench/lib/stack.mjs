// patchbay's own programs as the benchmark runs them: the reference upstream, a staging server
// (serve) and its config, the publisher's TUF repository of a feed, a client config. All on 127.0.0.1, all data under the fixture dir.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { BIN, REPO_ROOT, runOk, startLongRunning, waitFor } from './procs.mjs';

const PUBLISH = path.join(REPO_ROOT, 'packages/publisher/bin/patchbay-publish.js');

export function startUpstream(feedDir) {
  return startLongRunning(process.execPath, [
    BIN.upstream,
    '--dir',
    feedDir,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--json',
  ]);
}

/** A server config in `dir` (dataDir `dir/server-data`) mirroring `products` from `upstreamUrl`. */
export function writeServerConfig(dir, { upstreamUrl, products, extra = {} }) {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'staging-server.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: './server-data',
        upstream: { url: `${upstreamUrl}/`, concurrency: 4, retries: 1 },
        mirror: { products },
        schedule: { sync: null, gc: null },
        // as the figures before tokens became required on loopback: the cases measure serving,
        // checking and ingest, not enrolment (a token lookup per report is one indexed read)
        auth: { reportTokens: 'optional' },
        ...extra,
      },
      null,
      2,
    ),
  );
  return file;
}

/**
 * Node options for the servers under test, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof" to profile them (NODE_OPTIONS refuses --cpu-prof, and would
 * profile every process of the run).
 */
export function serverNodeArgs() {
  return (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

/**
 * `patchbay-server serve` on `config`, resolved once its start-up sync has finished.
 * Logs at the shipped default (info): that is what a deployment pays for.
 */
export async function startServer(config, { timeoutMs = 600_000, logLevel = 'info' } = {}) {
  const server = await startLongRunning(
    process.execPath,
    [...serverNodeArgs(), BIN.server, '--config', config, 'serve', '--json'],
    {
      cwd: path.dirname(config),
      env: { PATCHBAY_LOG_LEVEL: logLevel },
    },
  );
  try {
    const status = await waitFor(
      'the start-up sync',
      async () => {
        const res = await fetch(`${server.url}/v1/status`);
        const body = await res.json();
        const last = body.lastSync;
        return last?.finishedAt && last.outcome !== 'running' ? body : undefined;
      },
      timeoutMs,
    );
    if (
      status.lastSync.outcome !== 'ok' &&
      status.lastSync.outcome !== 'not-modified' &&
      !status.mirror?.patches
    ) {
      throw new Error(`start-up sync ended "${status.lastSync.outcome}": ${status.lastSync.error ?? ''}`);
    }
    return { ...server, status };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** `patchbay-server keygen` in `dataDir`: the public key file of the server's online key. */
export async function serverKeygen(dataDir) {
  const keygen = await runOk(process.execPath, [BIN.server, '--data-dir', dataDir, 'keygen', '--json']);
  return JSON.parse(keygen.stdout).onlineKey.publicKeyFile;
}

/**
 * The publisher's TUF repository of `feedDir` in `repo` (`patchbay-publish init`, then
 * `import-feed`), keys in `keys`; `onlineKeys`: staging servers' online public key files for
 * snapshot and timestamp (none: the publisher signs them). Returns the root file hosts trust
 * and how long the import took.
 */
export async function publishRepository({ feedDir, repo, keys, onlineKeys = [], vendor = 'Bench' }) {
  await runOk(process.execPath, [
    PUBLISH,
    'init',
    '--repo',
    repo,
    '--keys',
    keys,
    ...onlineKeys.flatMap((file) => ['--online-key', file]),
    '--vendor',
    vendor,
  ]);
  const imported = await runOk(
    process.execPath,
    [PUBLISH, 'import-feed', '--feed', feedDir, '--repo', repo, '--keys', keys],
    { timeoutMs: 1_800_000 },
  );
  return { rootFile: path.join(repo, 'metadata', '1.root.json'), importMs: imported.ms };
}

/** A host's config: `server` (a staging server URL, or `{ repository }`), trusting `rootFile`. */
export function writeClientConfig(dir, { server, hostId, product, release, rootFile }) {
  const installDir = path.join(dir, 'install');
  mkdirSync(path.join(installDir, 'patches'), { recursive: true });
  const file = path.join(dir, 'client.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        server,
        hostId,
        dataDir: './data',
        products: [{ id: product, release, installDir: './install' }],
        policy: { autoInstall: 'none' },
        trust: { root: rootFile },
        retries: 0,
        timeoutSeconds: 30,
      },
      null,
      2,
    ),
  );
  return file;
}
