// Versioned schema migrations for the PostgreSQL stores. Each store (component) lists its
// steps; each is applied once and recorded in patchbay_schema, all pending steps in one
// transaction (PostgreSQL DDL is transactional: a failed step leaves the previous version).
// Replicas starting at once serialise on a transaction-level advisory lock, so a step never
// runs twice. A database that holds a version newer than this release knows is refused (an
// older server must not write into a schema it does not understand): the admin upgrades the
// server, never the other way round (docs/scale.md "Upgrading the schema").
import type pg from 'pg';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import { inTransaction } from './postgres-pool.js';

export interface PostgresMigration {
  version: number;
  why: string;
  sql: string;
}

/**
 * The advisory lock key migrations hold (a fixed 64-bit number: 'patchbay' in ASCII,
 * 0x7061746368626179), in decimal: hexadecimal integer literals need PostgreSQL 16.
 */
const MIGRATION_LOCK = '8097881575290724729';

const SCHEMA_TABLE = `CREATE TABLE IF NOT EXISTS patchbay_schema (
  component  text        NOT NULL,
  version    integer     NOT NULL,
  why        text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (component, version)
)`;

/** Bring `component`'s tables up to the last step of `migrations` (ascending versions from 1). */
export async function migratePostgres(
  pool: pg.Pool,
  component: string,
  migrations: readonly PostgresMigration[],
): Promise<{ from: number; to: number }> {
  const known = migrations.at(-1)?.version ?? 0;
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await client.query(SCHEMA_TABLE);
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM patchbay_schema WHERE component = $1',
      [component],
    );
    const from = rows[0]?.version ?? 0;
    if (from > known)
      throw new PatchbayError(
        ErrorCodes.DATABASE,
        `the database's ${component} schema is version ${from}, newer than this release knows (${known}): upgrade patchbay-server on this machine`,
        { component, databaseVersion: from, knownVersion: known },
      );
    for (const step of migrations) {
      if (step.version <= from) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO patchbay_schema (component, version, why) VALUES ($1, $2, $3)', [
        component,
        step.version,
        step.why,
      ]);
    }
    return { from, to: Math.max(from, known) };
  });
}
