// A throwaway PostgreSQL cluster for one test file, stopped and removed at teardown. The
// cluster itself is started by postgres-cluster.mjs (plain JavaScript, shared with the
// benchmark); this module adds tap's skip and teardown.
import type { Test } from 'tap';
import { PG_LIB, postgresBinDir, startCluster } from './postgres-cluster.mjs';

export { postgresBinDir };

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
  const cluster = await startCluster(options);
  t.teardown(() => cluster.destroy());
  const { url, port, createDatabase, restart, stop, start } = cluster;
  return { url, port, createDatabase, restart, stop, start };
}
