// A throwaway PostgreSQL cluster: initdb in a temp directory, a free loopback port, removed
// by destroy(). Plain JavaScript so that both the tests (test/helpers/postgres.ts wraps it in
// tap's teardown and skip) and the benchmark (bench/, plain .mjs run by node) start the same
// cluster the same way. Debian's `postgresql` package provides the binaries; nothing else (no
// systemd, no running server) is needed. PostgreSQL refuses to run as root, and sessions and CI
// run as root: then the cluster runs as the `postgres` user the package creates (runuser), in
// a directory that user owns.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const PG_LIB = '/usr/lib/postgresql';

/** The bin directory of the newest PostgreSQL installed from Debian's packages, or undefined. */
export function postgresBinDir() {
  if (!fs.existsSync(PG_LIB)) return undefined;
  const versions = fs
    .readdirSync(PG_LIB)
    .filter((v) => fs.existsSync(path.join(PG_LIB, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(PG_LIB, versions[0], 'bin');
}

function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Run a PostgreSQL program as the user the cluster belongs to. */
function runPg(bin, program, args) {
  const file = path.join(bin, program);
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  const result = spawnSync(command, argv, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0)
    throw new Error(
      `${program} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`,
    );
}

/** runPg without blocking the event loop: servers and load in this process go on meanwhile. */
function runPgAsync(bin, program, args) {
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
 * Start a cluster; the caller removes it with destroy(). Throws when PostgreSQL is absent.
 *
 * fsync is off by default: the tests kill servers, never the machine, and a committed
 * transaction survives a PostgreSQL crash without fsync as long as the kernel keeps its pages.
 *
 * @param {{ fsync?: boolean, maxConnections?: number }} [options]
 */
export async function startCluster(options = {}) {
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
    `-c max_connections=${options.maxConnections ?? 200}`,
    ...(options.fsync === true ? [] : ['-c fsync=off', '-c full_page_writes=off']),
  ].join(' ');
  let running = false;
  const start = async () => {
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
  const stop = async () => {
    if (!running) return;
    await runPgAsync(bin, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    running = false;
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir,
    /** postmaster.pid's first line: the cluster's main process, while it runs */
    pid() {
      try {
        return Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch {
        return undefined;
      }
    },
    async createDatabase(name) {
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
    async restart() {
      await stop();
      await start();
    },
    stop,
    start,
    /** stop at once (nothing to keep) and remove the directory */
    async destroy() {
      try {
        runPg(bin, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      running = false;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
