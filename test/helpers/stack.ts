// A whole patchbay on loopback for the end-to-end tests, on trust v2 (CONTRACT §5) by default:
// the sample feed in a temp dir, published into a TUF repository by the publisher
// (`patchbay-publish init` naming the staging server's online key, then `import-feed` with the
// vendor's key), the reference upstream serving that repository, a staging server mirroring it
// from the publisher's root (`upstream.trustedRoot`), and client configs with `trust.root`.
// `startStack(dir, { upstream: 'feed' })` builds a staging server that reads the feed itself
// (the server's v1 feed upstream: /v1/catalog signed with its mirror key, no TUF repository),
// for tests of that server path; hosts need TUF, so it writes no client configs.
import fs from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import path from 'node:path';
import {
  BIN,
  REPO_ROOT,
  run,
  runJson,
  startListening,
  waitFor,
  type LongRunning,
  type RunResult,
} from './processes.js';

export const PUBLISH = path.join(REPO_ROOT, 'packages/publisher/bin/patchbay-publish.js');
export const VENDOR_KEY = path.join(REPO_ROOT, 'packages/sample-feed/demo-keys/vendor-demo.pub');

/** What the staging server mirrors: the publisher's TUF repository, or the feed itself (server-side v1). */
export type UpstreamKind = 'repository' | 'feed';

export interface Stack {
  dir: string;
  upstreamKind: UpstreamKind;
  feedDir: string;
  /** the publisher's repository the upstream serves (null for a feed upstream) */
  repoDir: string | null;
  /** the publisher's root version 1, the server's upstream.trustedRoot and the hosts' trust.root (null for a feed upstream) */
  rootFile: string | null;
  /** the server's data directory */
  dataDir: string;
  /**
   * After the feed in feedDir changed: publishes it into the same repository (a new
   * `import-feed` publication); a feed upstream has nothing to do, it serves the feed as it is.
   */
  publishFeed: () => Promise<void>;
  /** generateFeed(feedDir, args), then publishFeed() */
  updateFeed: (args?: string[]) => Promise<void>;
  upstream: LongRunning;
  server: LongRunning;
  serverConfig: string;
  /** restart the staging server on the same data dir and port */
  restartServer: () => Promise<LongRunning>;
  getJson: <T = unknown>(urlPath: string) => Promise<T>;
  /** start a sync through the API and wait until it has finished */
  syncNow: () => Promise<SyncStatus>;
  writeClientConfig: (name: string, release: string, extra?: Record<string, unknown>) => ClientHandle;
  stop: () => Promise<void>;
}

export interface ClientHandle {
  config: string;
  installDir: string;
  dataDir: string;
  hostId: string;
}

export interface SyncStatus {
  startedAt: string;
  finishedAt: string | null;
  outcome: string;
  error: string | null;
  upstreamSequence: number | null;
  heldBack: { patchId: string; error: string }[];
}

export interface StatusDocument {
  lastSync: SyncStatus | null;
  mirror: { sequence: number; patches: number; blobs: number; bytes: number };
  clients: { total: number; stale: number };
  upstream: { url: string };
  /** v2 only */
  trust?: {
    mode: string;
    rootVersion: number | null;
    targetsVersion: number | null;
    snapshotVersion: number | null;
  };
}

export async function generateFeed(feedDir: string, args: string[] = []): Promise<void> {
  const result = await run(BIN.sampleFeed, ['generate', '--out', feedDir, ...args]);
  if (result.code !== 0) throw new Error(`sample feed generation failed: ${result.stderr}`);
}

/** The reference upstream (`patchbay-upstream`) serving `feedDir` on a free loopback port. */
export function startUpstream(feedDir: string, extraArgs: readonly string[] = []): Promise<LongRunning> {
  return startListening(BIN.upstream, [
    '--dir',
    feedDir,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--json',
    ...extraArgs,
  ]);
}

async function publish(args: string[]): Promise<void> {
  const result = await run(PUBLISH, args);
  if (result.code !== 0)
    throw new Error(`patchbay-publish ${args[0]} failed: ${result.stdout} ${result.stderr}`);
}

// One set of publisher keys (root, targets, snapshot, timestamp) for every test process of
// every run, made by the first that needs it under .tap/ and taken by every stack's
// `init --existing-keys`: each stack still gets its own repository and root. Four keygen runs
// (~2 CPU-s) once, instead of in each of the ~20 test processes that publish.
const PUBLISHER_KEYS = path.join(REPO_ROOT, '.tap', 'e2e-publisher-keys');
let publisherKeys: Promise<string> | undefined;
function sharedPublisherKeys(): Promise<string> {
  publisherKeys ??= (async () => {
    if (fs.existsSync(PUBLISHER_KEYS)) return PUBLISHER_KEYS;
    // Made aside and renamed into place whole: a parallel test process sees all four keys or none.
    fs.mkdirSync(path.dirname(PUBLISHER_KEYS), { recursive: true });
    const made = fs.mkdtempSync(`${PUBLISHER_KEYS}-`);
    await Promise.all(
      ['root-1', 'targets-1', 'snapshot', 'timestamp'].map((name) =>
        publish(['keygen', '--keys', made, '--name', name]),
      ),
    );
    try {
      fs.renameSync(made, PUBLISHER_KEYS);
    } catch (err) {
      fs.rmSync(made, { recursive: true, force: true });
      // Another test process put its set in place first: take that one.
      if (!fs.existsSync(PUBLISHER_KEYS)) throw err;
    }
    return PUBLISHER_KEYS;
  })();
  return publisherKeys;
}

/**
 * A publisher's repository of the feed in `feedDir` whose root lets `onlineKeyFiles` (staging
 * servers' online public keys) sign snapshot and timestamp. Returns its 1.root.json.
 */
export async function publishRepository(
  repoDir: string,
  feedDir: string,
  onlineKeyFiles: readonly string[],
  /** the feed's signing key (`--vendor-key`); null: an unsigned feed (a test's own) */
  vendorKey: string | null = VENDOR_KEY,
): Promise<string> {
  const keys = await sharedPublisherKeys();
  await publish([
    'init',
    '--existing-keys',
    '--repo',
    repoDir,
    '--keys',
    keys,
    ...onlineKeyFiles.flatMap((file) => ['--online-key', file]),
    '--vendor',
    'Arcserve',
  ]);
  await publish(await importFeedArgs(repoDir, feedDir, vendorKey));
  return path.join(repoDir, 'metadata', '1.root.json');
}

/** A new publication of the feed in `feedDir` into the repository made by publishRepository. */
export async function importFeed(repoDir: string, feedDir: string): Promise<void> {
  await publish(await importFeedArgs(repoDir, feedDir));
}

/**
 * `patchbay-publish import-feed` of `feed` (a directory or URL) into the repository made by
 * publishRepository, with the demo vendor key; the result as it is (a refusal does not throw).
 */
export async function runImportFeed(
  repoDir: string,
  feed: string,
  extra: readonly string[] = [],
): Promise<RunResult> {
  return run(PUBLISH, [...(await importFeedArgs(repoDir, feed)), ...extra]);
}

async function importFeedArgs(
  repoDir: string,
  feed: string,
  vendorKey: string | null = VENDOR_KEY,
): Promise<string[]> {
  const keys = await sharedPublisherKeys();
  const vendor = vendorKey === null ? [] : ['--vendor-key', vendorKey];
  return ['import-feed', '--feed', feed, ...vendor, '--repo', repoDir, '--keys', keys];
}

/** `patchbay-server keygen` in `dataDir`: the online public key file for the publisher's root. */
export async function serverOnlineKey(dataDir: string): Promise<string> {
  const keygen = await runJson<{ onlineKey: { publicKeyFile: string } }>(BIN.server, [
    '--data-dir',
    dataDir,
    'keygen',
  ]);
  if (keygen.code !== 0) throw new Error(`patchbay-server keygen failed: ${keygen.stderr}`);
  return keygen.json.onlineKey.publicKeyFile;
}

export async function startStack(
  dir: string,
  opts: {
    /** 'repository' (default): TUF. 'feed': the server reads the feed itself (no hosts) */
    upstream?: UpstreamKind;
    releases?: string[];
    serverExtra?: Record<string, unknown>;
    /** merged into the server's `upstream` config (e.g. another url, publicKey, maxFeedBytes) */
    upstreamExtra?: Record<string, unknown>;
    /** PEM file of a CA to trust for an https staging server (listen.tls in serverExtra) */
    ca?: string;
  } = {},
): Promise<Stack> {
  const upstreamKind = opts.upstream ?? 'repository';
  const feedDir = path.join(dir, 'feed');
  await generateFeed(feedDir);
  const dataDir = path.resolve(dir, (opts.serverExtra?.dataDir as string | undefined) ?? './server-data');
  let repoDir: string | null = null;
  let rootFile: string | null = null;
  if (upstreamKind === 'repository') {
    repoDir = path.join(dir, 'repo');
    rootFile = await publishRepository(repoDir, feedDir, [await serverOnlineKey(dataDir)]);
  }
  const upstream = await startUpstream(repoDir ?? feedDir);

  const serverConfig = path.join(dir, 'staging-server.json');
  fs.writeFileSync(
    serverConfig,
    JSON.stringify(
      {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: './server-data',
        upstream: {
          url: `${upstream.url}/`,
          ...(rootFile ? { trustedRoot: rootFile } : {}),
          concurrency: 4,
          retries: 1,
          ...opts.upstreamExtra,
        },
        mirror: { products: [{ id: 'arcserve-backup', releases: opts.releases ?? ['18.0', '19.0'] }] },
        schedule: { sync: null },
        // Report tokens are required by default everywhere; this loopback test stack takes
        // reports without them unless a test asks (e2e-security and faults/fleet require them).
        auth: { reportTokens: 'optional' },
        ...opts.serverExtra,
      },
      null,
      2,
    ),
  );

  // A server that fails to start must not leave the upstream holding the test open.
  let server = await startServer(serverConfig, dir, []).catch(async (err: unknown) => {
    await upstream.stop();
    throw err;
  });
  const port = new URL(server.url).port;

  const dispatcher = opts.ca ? new Agent({ connect: { ca: fs.readFileSync(opts.ca) } }) : undefined;
  const request = (url: string, init: { method?: string } = {}) =>
    undiciFetch(url, dispatcher ? { ...init, dispatcher } : init);
  const getJson = async <T>(urlPath: string): Promise<T> => {
    const res = await request(`${server.url}${urlPath}`);
    if (!res.ok) throw new Error(`GET ${urlPath}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  const waitForFinishedSync = async (after: string | null): Promise<SyncStatus> =>
    waitFor('a finished sync', async () => {
      const status = await getJson<StatusDocument>('/v1/status');
      const last = status.lastSync;
      if (last?.finishedAt && last.outcome !== 'running' && last.startedAt !== after) return last;
      return undefined;
    });

  await waitForFinishedSync(null).catch(async (err: unknown) => {
    await server.stop();
    await upstream.stop();
    throw err;
  });

  const publishFeed = async (): Promise<void> => {
    if (repoDir) await importFeed(repoDir, feedDir);
  };
  const stack: Stack = {
    dir,
    upstreamKind,
    feedDir,
    repoDir,
    rootFile,
    dataDir,
    publishFeed,
    updateFeed: async (args = []) => {
      await generateFeed(feedDir, args);
      await publishFeed();
    },
    upstream,
    get server() {
      return server;
    },
    serverConfig,
    restartServer: async () => {
      await server.stop();
      server = await startServer(serverConfig, dir, ['--port', port]);
      return server;
    },
    getJson,
    syncNow: async () => {
      const before = (await getJson<StatusDocument>('/v1/status')).lastSync?.startedAt ?? null;
      const res = await request(`${server.url}/v1/sync`, { method: 'POST' });
      if (res.status !== 202) throw new Error(`POST /v1/sync: HTTP ${res.status} ${await res.text()}`);
      return waitForFinishedSync(before);
    },
    writeClientConfig: (name, release, extra = {}) => {
      if (!rootFile) throw new Error('a feed upstream stack serves no TUF repository: hosts cannot use it');
      const clientDir = path.join(dir, name);
      const installDir = path.join(clientDir, 'sandbox', 'arcserve');
      fs.mkdirSync(installDir, { recursive: true });
      const config = path.join(clientDir, 'client.json');
      fs.writeFileSync(
        config,
        JSON.stringify(
          {
            server: server.url,
            hostId: name,
            dataDir: './data',
            products: [{ id: 'arcserve-backup', release, installDir: './sandbox/arcserve' }],
            policy: { autoInstall: 'none' },
            retries: 0,
            timeoutSeconds: 5,
            ...extra,
            trust: { root: rootFile, ...(extra.trust as object | undefined) },
          },
          null,
          2,
        ),
      );
      return { config, installDir, dataDir: path.join(clientDir, 'data'), hostId: name };
    },
    stop: async () => {
      await server.stop();
      await upstream.stop();
    },
  };
  return stack;
}

async function startServer(config: string, cwd: string, extra: string[]): Promise<LongRunning> {
  return startListening(BIN.server, ['--config', config, ...extra, 'serve', '--json'], { cwd });
}
