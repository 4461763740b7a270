// A throwaway PostgreSQL cluster for one test file: initdb in a temp directory, a free
// loopback port, stopped and removed at teardown. Debian's `postgresql` package provides the
// binaries; nothing else (no systemd, no running server) is needed. PostgreSQL refuses to run
// as root, and sessions and CI run as root: then the cluster runs as the `postgres` user the
// package creates (runuser), in a directory that user owns.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

const PG_LIB = '/usr/lib/postgresql';

/** The bin directory of the newest PostgreSQL installed from Debian's packages, or undefined. */
export function postgresBinDir(): string | undefined {
  if (!fs.existsSync(PG_LIB)) return undefined;
  const versions = fs
    .readdirSync(PG_LIB)
    .filter((v) => fs.existsSync(path.join(PG_LIB, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(PG_LIB, versions[0], 'bin');
}

/** Why the PostgreSQL tests cannot run here, or undefined. Under CI they never skip. */
export function postgresSkipReason(): string | undefined {
  if (postgresBinDir() || process.env.CI) return undefined;
  return `PostgreSQL is absent (${PG_LIB}/*/bin/initdb): apt-get install postgresql to run the PostgreSQL store's tests`;
}

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly port: number;
  /** A URL to a fresh, empty database of its own in this cluster. */
  createDatabase(name: string): Promise<string>;
  /** pg_ctl stop (fast: connections are cut, nothing committed is lost), then start on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Run a PostgreSQL program as the user the cluster belongs to. */
function runPg(bin: string, program: string, args: string[]): void {
  const file = path.join(bin, program);
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  const result = spawnSync(command, argv, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0)
    throw new Error(
      `${program} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`,
    );
}

/** runPg without blocking the event loop: servers and load in this process go on meanwhile. */
function runPgAsync(bin: string, program: string, args: string[]): Promise<void> {
  const file = path.join(bin, program);
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${program} ${args.join(' ')} failed: ${stderr || stdout || err.message}`));
      else resolve();
    });
  });
}

/**
 * Start a cluster for this test file, stopped and removed at `t`'s teardown. Where PostgreSQL
 * is absent outside CI, says so in `t` and returns undefined (the caller skips); under CI a
 * missing PostgreSQL is a failure, said plainly.
 *
 * fsync is off by default: the tests kill servers, never the machine, and a committed
 * transaction survives a PostgreSQL crash without fsync as long as the kernel keeps its pages.
 */
export async function startPostgres(
  t: Test,
  options: { fsync?: boolean } = {},
): Promise<PostgresCluster | undefined> {
  const skip = postgresSkipReason();
  if (skip) {
    t.comment(`skipped: ${skip}`);
    return undefined;
  }
  const bin = postgresBinDir();
  if (!bin) throw new Error(`PostgreSQL is absent (${PG_LIB}); .ci/run installs Debian's postgresql`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-pg-'));
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const dataDir = path.join(dir, 'data');
  runPg(bin, 'initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freeLoopbackPort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=200',
    ...(options.fsync === true ? [] : ['-c fsync=off', '-c full_page_writes=off']),
  ].join(' ');
  let running = false;
  const start = async (): Promise<void> => {
    await runPgAsync(bin, 'pg_ctl', [
      '-D',
      dataDir,
      '-o',
      settings,
      '-l',
      path.join(dir, 'log'),
      '-w',
      'start',
    ]);
    running = true;
  };
  const stop = async (): Promise<void> => {
    if (!running) return;
    await runPgAsync(bin, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    running = false;
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  t.teardown(async () => {
    try {
      runPg(bin, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    url,
    port,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async restart(): Promise<void> {
      await stop();
      await start();
    },
    stop,
    start,
  };
}
