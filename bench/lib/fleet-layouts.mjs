// The fleet benchmark's two deployments, each behind one base URL the hosts use:
// (a) one `patchbay-server serve` on SQLite (no database.url);
// (b) two `serve` replicas on one PostgreSQL database (a throwaway cluster) sharing one
//     dataDir, behind nginx balancing over both.
// Both serve their own TUF repository (trust v2) of a small signed feed: product bench-suite
// release 1.0, the 25 patches a host reports on.
import { cpSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startCluster } from '../../test/helpers/postgres-cluster.mjs';
import { startNginx } from '../baselines/nginx.mjs';
import { writeServeFeed } from './fixtures.mjs';
import { BIN, runOk, startLongRunning, waitFor } from './procs.mjs';
import { publishRepository, serverKeygen, serverNodeArgs, startServer, startUpstream } from './stack.mjs';

const PRODUCT = 'bench-suite';
const RELEASE = '1.0';

/** The fleet's feed: one tiny blob product and bench-suite 1.0 to 4.0 with 25 patches each. */
export function writeFleetFeed(dir) {
  return writeServeFeed(dir, { patches: 101, blobCount: 1, blobBytes: 4096 });
}

/**
 * The signed upstream both layouts mirror: keys made once (`keygen`, copied into each layout's
 * dataDir: the repository's root names that online key), the publisher's repository of
 * `feedDir`, and the reference upstream serving it.
 */
export async function startSignedUpstream(dir, feedDir) {
  const keysHome = path.join(dir, 'server-keys');
  const onlinePub = await serverKeygen(keysHome);
  const { rootFile } = await publishRepository({
    feedDir,
    repo: path.join(dir, 'repository'),
    keys: path.join(dir, 'publisher-keys'),
    onlineKeys: [onlinePub],
  });
  const upstream = await startUpstream(path.join(dir, 'repository'));
  return { url: upstream.url, rootFile, keysDir: path.join(keysHome, 'keys'), stop: () => upstream.stop() };
}

function writeFleetConfig(dir, { upstream, dataDir, extra = {} }) {
  mkdirSync(dir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  cpSync(upstream.keysDir, path.join(dataDir, 'keys'), { recursive: true });
  const file = path.join(dir, 'staging-server.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        listen: { host: '127.0.0.1', port: 0 },
        dataDir,
        upstream: { url: `${upstream.url}/`, trustedRoot: upstream.rootFile, concurrency: 4, retries: 1 },
        mirror: { products: [{ id: PRODUCT, releases: [RELEASE] }] },
        schedule: { sync: null, gc: null },
        // 100,000 hosts cannot be enrolled one `enroll` process at a time in a benchmark's
        // time: a sample is, and sends its token; the others report without one
        auth: { reportTokens: 'optional' },
        ...extra,
      },
      null,
      2,
    ),
  );
  return file;
}

/** A replica joining a running one: up once it serves the published repository. */
async function startReplica(config) {
  const server = await startLongRunning(
    process.execPath,
    [...serverNodeArgs(), BIN.server, '--config', config, 'serve', '--json'],
    {
      cwd: path.dirname(config),
      env: { PATCHBAY_LOG_LEVEL: 'info' },
    },
  );
  try {
    await waitFor(
      'the replica serving timestamp.json',
      async () => (await fetch(`${server.url}/v1/tuf/metadata/timestamp.json`)).ok,
      120_000,
    );
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Bytes of the SQLite files (databases, WAL, shared memory) directly in `dataDir`. */
export function sqliteBytes(dataDir) {
  return readdirSync(dataDir)
    .filter((name) => /\.sqlite(-wal|-shm)?$/.test(name))
    .reduce((sum, name) => sum + statSync(path.join(dataDir, name)).size, 0);
}

/** Stops what was started, newest first; errors are ignored (a teardown must finish). */
function stopper(parts) {
  return async () => {
    for (const stop of parts.reverse()) await stop().catch(() => undefined);
  };
}

/** Layout (a): one server on SQLite. */
export async function startSingle({ dir, upstream }) {
  const dataDir = path.join(dir, 'server-data');
  const parts = [];
  try {
    const config = writeFleetConfig(dir, { upstream, dataDir });
    const server = await startServer(config);
    parts.push(() => server.stop());
    return {
      url: server.url,
      config,
      processes: [{ name: 'server', pid: server.pid }],
      databaseBytes: async () => ({ sqlite: sqliteBytes(dataDir) }),
      stop: stopper(parts),
    };
  } catch (err) {
    await stopper(parts)();
    throw err;
  }
}

/** This build's `serve` keeps a dataDir to itself: replicas need issue 16's leader election. */
export class ReplicasUnsupported extends Error {
  constructor() {
    super(
      'not runnable on this build: the second replica is refused the shared dataDir (PB_ERR_LOCKED); ' +
        'replicas need the leader election of issue 16',
    );
  }
}

/** Layout (b): two replicas on one PostgreSQL database and one dataDir, behind nginx. */
export async function startReplicas({ dir, upstream, nginxBin }) {
  const dataDir = path.join(dir, 'shared-data');
  const parts = [];
  try {
    const cluster = await startCluster();
    parts.push(() => cluster.destroy());
    const databaseUrl = await cluster.createDatabase('patchbay_fleet');
    const config = writeFleetConfig(dir, {
      upstream,
      dataDir,
      extra: { database: { url: databaseUrl } },
    });
    // the first takes the leadership and syncs; the second serves what it published
    const first = await startServer(config);
    parts.push(() => first.stop());
    const second = await startReplica(config).catch((err) => {
      throw /PB_ERR_LOCKED/.test(err.message) ? new ReplicasUnsupported() : err;
    });
    parts.push(() => second.stop());
    const nginx = await startNginx(nginxBin, {
      mode: 'replicas',
      workDir: dir,
      upstreams: [first.url, second.url].map((u) => new URL(u).host),
    });
    parts.push(() => nginx.stop());
    return {
      url: nginx.url,
      config,
      processes: [
        { name: 'replica 1', pid: first.pid },
        { name: 'replica 2', pid: second.pid },
        { name: 'nginx', pid: nginx.pid, withChildren: true },
        { name: 'postgres', pid: cluster.pid(), withChildren: true },
      ],
      databaseBytes: async () => ({
        postgres: await postgresBytes(databaseUrl),
        // until reports live in PostgreSQL, they are still in the shared dataDir
        sqlite: sqliteBytes(dataDir),
      }),
      stop: stopper(parts),
    };
  } catch (err) {
    await stopper(parts)();
    throw err;
  }
}

async function postgresBytes(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT pg_database_size(current_database()) AS bytes');
    return Number(rows[0].bytes);
  } finally {
    await client.end();
  }
}

/**
 * Report tokens for a sample of the fleet, through `patchbay-server enroll` as an operator
 * issues them (one process per host, two at a time). Returns host index -> token and the
 * median time of one enroll.
 */
export async function enrollSample(config, indexes, hostIdOf) {
  const tokens = {};
  const times = [];
  const queue = [...indexes];
  const enrollNext = async () => {
    while (queue.length > 0) {
      const index = queue.shift();
      const out = await runOk(
        process.execPath,
        [BIN.server, '--config', config, 'enroll', hostIdOf(index), '--json'],
        {
          cwd: path.dirname(config),
        },
      );
      tokens[index] = JSON.parse(out.stdout).token;
      times.push(out.ms);
    }
  };
  await Promise.all([enrollNext(), enrollNext()]);
  times.sort((a, b) => a - b);
  return { tokens, enrollMs: times[Math.floor(times.length / 2)] ?? NaN };
}
