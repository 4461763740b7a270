// Schema migrations of reports.sqlite, versioned with PRAGMA user_version. Version 1
// is SCHEMA_SQL (the first release); each later version is one step here, applied in
// its own transaction, so a file from any earlier release is brought up to date at
// open and a crash mid-migration leaves the previous version intact.
import type Database from 'better-sqlite3';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import { MISSING_SQL } from './client-rows.js';
import { SCHEMA_SQL } from './schema.js';

interface Migration {
  version: number;
  why: string;
  apply(db: Database.Database): void;
}

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  return columns.some((c) => c.name === column);
}

/** The per-host counter columns of clients (version 6) and the states each counts. */
const HOST_COUNTER_COLUMNS = ['installed', 'failed', 'missing', 'superseded'] as const;
const COUNTED_STATES: Record<(typeof HOST_COUNTER_COLUMNS)[number], string> = {
  installed: "= 'installed'",
  failed: "= 'failed'",
  missing: `IN (${MISSING_SQL})`,
  superseded: "= 'superseded'",
};

/** Each counter column as SUM over the rows of `state` (a GROUP BY hostId). */
function countsOf(state: string): string {
  return HOST_COUNTER_COLUMNS.map((c) => `COALESCE(SUM(${state} ${COUNTED_STATES[c]}), 0) AS ${c}`).join(
    ', ',
  );
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 2,
    why: 'Patches Downloaded report, severity/release filters, install history index',
    apply(db) {
      // null = the client did not say (daemons older than the `cached` extension).
      if (!hasColumn(db, 'client_patches', 'cached'))
        db.exec('ALTER TABLE client_patches ADD COLUMN cached INTEGER');
      db.exec(`
        -- The rows of the Patches Downloaded report, without reading every patch state;
        -- covering, so the report never looks the rows up in the table.
        CREATE INDEX IF NOT EXISTS client_patches_cached ON client_patches (patchId, hostId, state, cached, since)
          WHERE cached = 1 OR state = 'downloaded';

        -- Title, severity and release of every patch any catalog has published, kept
        -- after a patch leaves the catalog so that old history still filters by them.
        CREATE TABLE IF NOT EXISTS patch_facts (
          patchId  TEXT PRIMARY KEY NOT NULL,
          title    TEXT NOT NULL,
          severity TEXT NOT NULL,
          product  TEXT NOT NULL,
          release  TEXT NOT NULL
        ) WITHOUT ROWID;

        -- Installs and uninstalls only, newest first (the Patches Installed history);
        -- a partial index, so the walk skips check/download/error events.
        CREATE INDEX IF NOT EXISTS events_installs ON events (at) WHERE type IN ('install', 'uninstall');
      `);
    },
  },
  {
    version: 3,
    why: 'tiered mirrors: hosts reported through a branch (report rollup), the branches',
    apply(db) {
      // via: the branch that delivered the host's reports (null: the host reports itself);
      // viaPath / viaKeys: JSON arrays of every branch id / mirror key fingerprint on the way, nearest first.
      for (const column of ['via', 'viaPath', 'viaKeys'])
        if (!hasColumn(db, 'clients', column)) db.exec(`ALTER TABLE clients ADD COLUMN ${column} TEXT`);
      db.exec(`
        CREATE TABLE IF NOT EXISTS branches (
          branchId     TEXT PRIMARY KEY NOT NULL,
          mirror       TEXT NOT NULL,           -- the branch's mirror key fingerprint
          lastRollupAt TEXT NOT NULL,
          hosts        INTEGER NOT NULL          -- hosts in its last rollup
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 4,
    why: 'client instances: events unique per (hostId, instanceId, seq); installer output on events',
    apply(db) {
      // A UNIQUE constraint cannot be altered in SQLite: the table is rebuilt (ids kept, so
      // paging cursors and the rollup cursor stay valid). Events of clients that send no
      // instance id keep instanceId '' and the old (hostId, seq) behaviour.
      db.exec(`
        CREATE TABLE events_v4 (
          id         INTEGER PRIMARY KEY,
          hostId     TEXT NOT NULL,
          seq        INTEGER NOT NULL,
          type       TEXT NOT NULL,
          patchId    TEXT,
          at         TEXT NOT NULL,
          outcome    TEXT NOT NULL,
          message    TEXT NOT NULL DEFAULT '',
          receivedAt TEXT NOT NULL,
          instanceId TEXT NOT NULL DEFAULT '',  -- the client's data-dir id ('' for old clients)
          output     TEXT,                      -- last lines of the installer's output, when sent
          UNIQUE (hostId, instanceId, seq)
        );
        INSERT INTO events_v4 (id, hostId, seq, type, patchId, at, outcome, message, receivedAt)
          SELECT id, hostId, seq, type, patchId, at, outcome, message, receivedAt FROM events;
        DROP TABLE events;
        ALTER TABLE events_v4 RENAME TO events;
        CREATE INDEX events_by_at    ON events (at);
        CREATE INDEX events_by_host  ON events (hostId, at);
        CREATE INDEX events_by_patch ON events (patchId, at);
        CREATE INDEX events_by_type  ON events (type, at);
        CREATE INDEX events_installs ON events (at) WHERE type IN ('install', 'uninstall');

        -- Every instance (client data dir) a host id has reported from: a second one means
        -- the host was re-imaged, or two machines share the id.
        CREATE TABLE IF NOT EXISTS client_instances (
          hostId      TEXT NOT NULL REFERENCES clients (hostId) ON DELETE CASCADE,
          instanceId  TEXT NOT NULL,
          firstSeenAt TEXT NOT NULL,              -- server time of its first report
          lastSeenAt  TEXT NOT NULL,
          PRIMARY KEY (hostId, instanceId)
        ) WITHOUT ROWID;
      `);
      if (!hasColumn(db, 'clients', 'instanceId')) db.exec('ALTER TABLE clients ADD COLUMN instanceId TEXT');
    },
  },
  {
    version: 5,
    why: 'hosts per (patch, state), kept at ingest: the fleet compliance counts without reading every state',
    apply(db) {
      // Triggers keep the counts in the transaction of every write to client_patches, whatever
      // path wrote it (ingest, rollup, a cascade). Rows that drop to 0 stay (read as absent).
      db.exec(`
        CREATE TABLE patch_state_counts (
          patchId TEXT NOT NULL,
          state   TEXT NOT NULL,
          hosts   INTEGER NOT NULL,
          PRIMARY KEY (patchId, state)
        ) WITHOUT ROWID;
        INSERT INTO patch_state_counts (patchId, state, hosts)
          SELECT patchId, state, COUNT(*) FROM client_patches GROUP BY patchId, state;
        -- Hosts per profile, and those awaiting a reboot, read from narrow indexes rather than
        -- by a scan of the clients rows (each holds its last report).
        CREATE INDEX clients_by_profile ON clients (platform, products);
        CREATE INDEX clients_pending_reboot ON clients (hostId) WHERE pendingReboot = 1;
        CREATE TRIGGER patch_state_counts_insert AFTER INSERT ON client_patches BEGIN
          INSERT INTO patch_state_counts (patchId, state, hosts) VALUES (new.patchId, new.state, 1)
            ON CONFLICT (patchId, state) DO UPDATE SET hosts = hosts + 1;
        END;
        CREATE TRIGGER patch_state_counts_delete AFTER DELETE ON client_patches BEGIN
          UPDATE patch_state_counts SET hosts = hosts - 1 WHERE patchId = old.patchId AND state = old.state;
        END;
        CREATE TRIGGER patch_state_counts_update AFTER UPDATE OF state ON client_patches
          WHEN old.state IS NOT new.state BEGIN
          UPDATE patch_state_counts SET hosts = hosts - 1 WHERE patchId = old.patchId AND state = old.state;
          INSERT INTO patch_state_counts (patchId, state, hosts) VALUES (new.patchId, new.state, 1)
            ON CONFLICT (patchId, state) DO UPDATE SET hosts = hosts + 1;
        END;
      `);
    },
  },
  {
    version: 6,
    why: "each host's patches per state class, kept at ingest: /v1/clients, /metrics and the host view without reading every state",
    apply(db) {
      // Columns of the host's own row (its summary reads them with it), written with the row by
      // the ingest that replaces the host's patch rows (snapshot.ts: as many triggers as changed
      // rows, each rewriting the wide row, cost a quarter of an ingest's CPU); built here from
      // the rows there are. missing: MISSING_STATES (types.ts), as /v1/clients has always counted.
      for (const column of HOST_COUNTER_COLUMNS)
        if (!hasColumn(db, 'clients', column))
          db.exec(`ALTER TABLE clients ADD COLUMN ${column} INTEGER NOT NULL DEFAULT 0`);
      db.exec(`
        UPDATE clients SET installed = s.installed, failed = s.failed, missing = s.missing, superseded = s.superseded
        FROM (SELECT hostId, ${countsOf('state')} FROM client_patches GROUP BY hostId) AS s
        WHERE clients.hostId = s.hostId;
        -- /v1/clients and /metrics' hosts per state from a walk of an index that holds what
        -- they read, not of the wide rows (each holds its last report); the host view's sorts
        -- by counts within a profile from another (it supersedes clients_by_profile).
        CREATE INDEX clients_summaries ON clients (hostId, hostname, platform, daemonVersion, lastSeenAt, products,
          pendingReboot, via, viaPath, installed, missing, failed);
        DROP INDEX clients_by_profile;
        CREATE INDEX clients_by_profile ON clients (platform, products, installed, superseded, failed, hostId);
      `);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 1;

/** Create or upgrade the schema to SCHEMA_VERSION; returns the version found at open. */
export function migrate(db: Database.Database, file: string): number {
  const found = db.pragma('user_version', { simple: true }) as number;
  if (found > SCHEMA_VERSION)
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `${file} has report schema version ${found}, newer than this server's ${SCHEMA_VERSION}: upgrade patchbay-server`,
      { file, found, supported: SCHEMA_VERSION },
    );
  if (found < 1) {
    db.transaction(() => {
      db.exec(SCHEMA_SQL);
      db.pragma('user_version = 1');
    })();
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= Math.max(found, 1)) continue;
    db.transaction(() => {
      migration.apply(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return found;
}
