// The reports database layout. Each history filter (host, patch, type, time) has an
// index whose trailing column is `at`, and SQLite appends the rowid (`id`) to every
// index, so "filter, newest first, page by (at, id)" walks one index backwards and
// stops after LIMIT rows — no scan of `events`, no sort. The index on `at` is declared
// ascending on purpose: walked backwards it yields (at DESC, id DESC), the cursor
// order; a DESC index would yield (at DESC, id ASC) and force a sort of the ties.
//
// SCHEMA_SQL is the version-1 layout exactly as first released; every change since is
// a numbered step in migrations.ts, so an old reports.sqlite and a new one end up alike.
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS clients (
  hostId        TEXT PRIMARY KEY NOT NULL,
  hostname      TEXT NOT NULL,
  platform      TEXT NOT NULL,
  daemonVersion TEXT NOT NULL,
  products      TEXT NOT NULL,            -- JSON [{ id, release }]
  lastSeenAt    TEXT NOT NULL,            -- server time of the last report received
  reportedAt    TEXT NOT NULL,            -- client time of the report the snapshot comes from
  lastReport    TEXT NOT NULL,            -- JSON of that report, without its events
  pendingReboot INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS clients_by_last_seen ON clients (lastSeenAt);

CREATE TABLE IF NOT EXISTS client_patches (
  hostId  TEXT NOT NULL REFERENCES clients (hostId) ON DELETE CASCADE,
  patchId TEXT NOT NULL,
  state   TEXT NOT NULL,
  since   TEXT,                           -- optional in reports
  reason  TEXT,                           -- why blocked / failed / superseded, when the client says
  PRIMARY KEY (hostId, patchId)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS client_patches_by_patch ON client_patches (patchId, state);

-- (hostId, seq) is the idempotency key; id is a stable rowid alias for paging cursors
-- (a hidden rowid may be renumbered by VACUUM, an INTEGER PRIMARY KEY never is).
CREATE TABLE IF NOT EXISTS events (
  id         INTEGER PRIMARY KEY,
  hostId     TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  type       TEXT NOT NULL,
  patchId    TEXT,
  at         TEXT NOT NULL,               -- normalised to toISOString(), so text order is time order
  outcome    TEXT NOT NULL,
  message    TEXT NOT NULL DEFAULT '',
  receivedAt TEXT NOT NULL,
  UNIQUE (hostId, seq)
);
CREATE INDEX IF NOT EXISTS events_by_at    ON events (at);
CREATE INDEX IF NOT EXISTS events_by_host  ON events (hostId, at);
CREATE INDEX IF NOT EXISTS events_by_patch ON events (patchId, at);
CREATE INDEX IF NOT EXISTS events_by_type  ON events (type, at);
`;
