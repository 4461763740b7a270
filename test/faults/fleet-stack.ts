// The fleet test's server side: the reference upstream serving a feed directory and one
// `patchbay-server serve`, both child processes on 127.0.0.1. Like test/helpers/stack.ts, but
// each process's teardown is registered the moment it runs, so a server that fails to start
// never leaves the upstream behind to hold the test open until tap's timeout.
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { fetch } from 'undici';
import { BIN, startListening, waitFor, type LongRunning } from '../helpers/processes.js';
import { generateFeed, startUpstream, type StatusDocument, type SyncStatus } from '../helpers/stack.js';

export interface FleetStack {
  feedDir: string;
  dataDir: string;
  server: LongRunning;
  getJson: <T>(urlPath: string) => Promise<T>;
  /** POST /v1/sync (admin: no admin token, so loopback is trusted) and wait for it to finish */
  syncNow: () => Promise<SyncStatus>;
}

export async function startFleetStack(
  t: Test,
  dir: string,
  serverExtra: Record<string, unknown>,
): Promise<FleetStack> {
  const feedDir = path.join(dir, 'feed');
  await generateFeed(feedDir);
  const upstream = await startUpstream(feedDir);
  t.teardown(() => upstream.stop());

  const dataDir = path.join(dir, 'server-data');
  const config = path.join(dir, 'staging-server.json');
  fs.writeFileSync(
    config,
    JSON.stringify(
      {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir,
        upstream: { url: `${upstream.url}/`, concurrency: 4, retries: 1 },
        mirror: { products: [{ id: 'arcserve-backup', releases: ['18.0', '19.0'] }] },
        schedule: { sync: null },
        ...serverExtra,
      },
      null,
      2,
    ),
  );
  const server = await startListening(BIN.server, ['--config', config, 'serve', '--json'], { cwd: dir });
  t.teardown(() => server.stop());

  const getJson = async <T>(urlPath: string): Promise<T> => {
    const res = await fetch(`${server.url}${urlPath}`);
    if (!res.ok) throw new Error(`GET ${urlPath}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const finishedSync = (after: string | null): Promise<SyncStatus> =>
    waitFor(
      'a finished sync',
      async () => {
        const last = (await getJson<StatusDocument>('/v1/status')).lastSync;
        if (last?.finishedAt && last.outcome !== 'running' && last.startedAt !== after) return last;
        return undefined;
      },
      120_000,
    );
  await finishedSync(null);

  return {
    feedDir,
    dataDir,
    server,
    getJson,
    syncNow: async () => {
      const before = (await getJson<StatusDocument>('/v1/status')).lastSync?.startedAt ?? null;
      const res = await fetch(`${server.url}/v1/sync`, { method: 'POST' });
      if (res.status !== 202) throw new Error(`POST /v1/sync: HTTP ${res.status} ${await res.text()}`);
      return finishedSync(before);
    },
  };
}
