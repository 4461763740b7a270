// The reports tables in PostgreSQL, version 1: the SQLite layout at its latest migration
// (sqlite/schema.ts and sqlite/migrations.ts, version 4), in one schema `reports` of their
// own so that they share a database with the other stores without a name clash.
//
// Instants are text, ISO 8601 as the SQLite store holds them, in the "C" collation: text
// order is then time order (ingest normalises times to toISOString()), a value comes back
// exactly as it went in (a patch's `since` is the client's own string, compared and shown
// as sent), and the (at, id) paging cursors round-trip without conversion. timestamptz would
// cost a parse and a format per value and change what callers read back. Ids (host, patch,
// instance, branch) are "C" too: keyset paging by hostId orders as SQLite's BINARY does, not
// by the database's locale.
//
// Every index that serves a history filter ends in (at, id): walked backwards it yields
// (at DESC, id DESC), the cursor order, with no sort (SQLite appends the rowid by itself).
import type { PostgresMigration } from '../../database/postgres-migrations.js';
import { MISSING_SQL } from './client-rows.js';

/** The component name in patchbay_schema. */
export const REPORTS_COMPONENT = 'reports';

const VERSION_1 = `
CREATE SCHEMA reports;

CREATE TABLE reports.clients (
  host_id        text COLLATE "C" PRIMARY KEY,
  hostname       text NOT NULL,
  platform       text NOT NULL,
  daemon_version text NOT NULL,
  products       json NOT NULL,             -- [{ id, release }]
  last_seen_at   text COLLATE "C" NOT NULL, -- server time of the last report received
  reported_at    text COLLATE "C" NOT NULL, -- client time of the report the snapshot comes from
  last_report    json NOT NULL,             -- that report without its events, as sent (json keeps its text)
  pending_reboot boolean NOT NULL DEFAULT false,
  via            text,                      -- the branch that delivers the host's reports (null: itself)
  via_path       text[],                    -- every branch on the way, nearest first
  via_keys       text[],                    -- their mirror key fingerprints
  instance_id    text                       -- the client instance of the snapshot's report
);
CREATE INDEX clients_by_last_seen ON reports.clients (last_seen_at);

CREATE TABLE reports.client_patches (
  host_id  text COLLATE "C" NOT NULL REFERENCES reports.clients (host_id) ON DELETE CASCADE,
  patch_id text COLLATE "C" NOT NULL,
  state    text NOT NULL,
  since    text,
  reason   text,
  cached   boolean,                         -- null: a daemon older than the cached extension
  PRIMARY KEY (host_id, patch_id)
);
-- The fleet's states by patch (compliance), read from the index alone.
CREATE INDEX client_patches_by_patch ON reports.client_patches (patch_id, state) INCLUDE (host_id);
-- The rows of the Patches Downloaded report, covering.
CREATE INDEX client_patches_cached ON reports.client_patches (patch_id, host_id) INCLUDE (state, cached, since)
  WHERE cached OR state = 'downloaded';

-- (host_id, instance_id, seq) is the idempotency key; id orders and pages (never reused).
CREATE TABLE reports.events (
  id          bigserial PRIMARY KEY,
  host_id     text COLLATE "C" NOT NULL,
  instance_id text COLLATE "C" NOT NULL DEFAULT '',  -- '' for clients that send none
  seq         bigint NOT NULL CHECK (seq >= 1),      -- as REPORT_SCHEMA says
  type        text NOT NULL,
  patch_id    text COLLATE "C",
  at          text COLLATE "C" NOT NULL,
  outcome     text NOT NULL,
  message     text NOT NULL DEFAULT '',
  output      text,
  received_at text COLLATE "C" NOT NULL,
  UNIQUE (host_id, instance_id, seq)
);
CREATE INDEX events_by_at    ON reports.events (at, id);
CREATE INDEX events_by_host  ON reports.events (host_id, at, id);
CREATE INDEX events_by_patch ON reports.events (patch_id, at, id);
CREATE INDEX events_by_type  ON reports.events (type, at, id);
CREATE INDEX events_installs ON reports.events (at, id) WHERE type IN ('install', 'uninstall');

CREATE TABLE reports.client_instances (
  host_id       text COLLATE "C" NOT NULL REFERENCES reports.clients (host_id) ON DELETE CASCADE,
  instance_id   text COLLATE "C" NOT NULL,
  first_seen_at text COLLATE "C" NOT NULL,
  last_seen_at  text COLLATE "C" NOT NULL,
  PRIMARY KEY (host_id, instance_id)
);

CREATE TABLE reports.patch_facts (
  patch_id text COLLATE "C" PRIMARY KEY,
  title    text NOT NULL,
  severity text NOT NULL,
  product  text NOT NULL,
  release  text NOT NULL
);

CREATE TABLE reports.branches (
  branch_id      text COLLATE "C" PRIMARY KEY,
  mirror         text NOT NULL,
  last_rollup_at text NOT NULL,
  hosts          integer NOT NULL
);

-- One row, bumped by every ingest transaction: revision() of every replica reads it.
CREATE TABLE reports.revision (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  value    bigint NOT NULL
);
INSERT INTO reports.revision (value) VALUES (0);
`;

// Hosts per (patch, state), kept by every ingest transaction (ingest-one.ts): the fleet's
// compliance counts without reading every state. Built from the rows there are, with
// writers held off meanwhile so that none is counted twice or missed.
const VERSION_2 = `
LOCK TABLE reports.client_patches IN SHARE MODE;
CREATE TABLE reports.patch_state_counts (
  patch_id text COLLATE "C" NOT NULL,
  state    text NOT NULL,
  hosts    bigint NOT NULL,                 -- rows that drop to 0 stay (read as absent)
  PRIMARY KEY (patch_id, state)
);
INSERT INTO reports.patch_state_counts (patch_id, state, hosts)
  SELECT patch_id, state, count(*) FROM reports.client_patches GROUP BY patch_id, state;
-- Hosts per profile, and those awaiting a reboot, from narrow indexes, not the wide rows.
CREATE INDEX clients_by_profile ON reports.clients (platform, (products::text));
CREATE INDEX clients_pending_reboot ON reports.clients (host_id) WHERE pending_reboot;
`;

// Each host's patches per state class (missing: MISSING_STATES, as /v1/clients counts), kept
// in its clients row by every ingest (snapshot.ts): /v1/clients, /metrics and the host view
// without reading every state. Built from the rows there are, writers held off meanwhile.
const VERSION_3 = `
LOCK TABLE reports.clients IN ACCESS EXCLUSIVE MODE;
LOCK TABLE reports.client_patches IN SHARE MODE;
ALTER TABLE reports.clients ADD COLUMN installed integer NOT NULL DEFAULT 0,
  ADD COLUMN failed integer NOT NULL DEFAULT 0, ADD COLUMN missing integer NOT NULL DEFAULT 0,
  ADD COLUMN superseded integer NOT NULL DEFAULT 0;
UPDATE reports.clients c SET installed = s.installed, failed = s.failed, missing = s.missing,
  superseded = s.superseded
FROM (SELECT host_id, count(*) FILTER (WHERE state = 'installed') AS installed,
    count(*) FILTER (WHERE state = 'failed') AS failed,
    count(*) FILTER (WHERE state IN (${MISSING_SQL})) AS missing,
    count(*) FILTER (WHERE state = 'superseded') AS superseded
  FROM reports.client_patches GROUP BY host_id) AS s
WHERE c.host_id = s.host_id;
-- /metrics' hosts per state from one narrow index; the host view's sorts by counts within a
-- profile from another (it supersedes clients_by_profile).
CREATE INDEX clients_states ON reports.clients (last_seen_at, failed, missing, pending_reboot);
DROP INDEX reports.clients_by_profile;
CREATE INDEX clients_by_profile ON reports.clients (platform, (products::text), installed, superseded, failed, host_id);
`;

export const REPORTS_MIGRATIONS: readonly PostgresMigration[] = [
  { version: 1, why: 'the reports tables (SQLite reports.sqlite version 4)', sql: VERSION_1 },
  { version: 2, why: 'hosts per (patch, state), kept at ingest (SQLite version 5)', sql: VERSION_2 },
  {
    version: 3,
    why: "each host's patches per state class, kept at ingest (SQLite version 6)",
    sql: VERSION_3,
  },
];
