// A whole patchbay on loopback for the end-to-end tests: the sample feed in a temp dir, the
// reference upstream serving it, a staging server mirroring it, and client configs.
import fs from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import path from 'node:path';
import { BIN, run, startListening, waitFor, type LongRunning } from './processes.js';

export interface Stack {
  dir: string;
  feedDir: string;
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

export async function startStack(
  dir: string,
  opts: {
    releases?: string[];
    serverExtra?: Record<string, unknown>;
    /** merged into the server's `upstream` config (e.g. another url, publicKey, maxFeedBytes) */
    upstreamExtra?: Record<string, unknown>;
    /** PEM file of a CA to trust for an https staging server (listen.tls in serverExtra) */
    ca?: string;
  } = {},
): Promise<Stack> {
  const feedDir = path.join(dir, 'feed');
  await generateFeed(feedDir);
  const upstream = await startUpstream(feedDir);

  const serverConfig = path.join(dir, 'staging-server.json');
  fs.writeFileSync(
    serverConfig,
    JSON.stringify(
      {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: './server-data',
        upstream: { url: `${upstream.url}/`, concurrency: 4, retries: 1, ...opts.upstreamExtra },
        mirror: { products: [{ id: 'arcserve-backup', releases: opts.releases ?? ['18.0', '19.0'] }] },
        schedule: { sync: null },
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

  const stack: Stack = {
    dir,
    feedDir,
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
