// The rows of reports.clients, reports.client_patches and reports.events as the queries
// select them (camelCase aliases, the columns in the order callers have always received
// them), and what they become for callers.
import type { PatchState } from '@patchbay/core';
import { MISSING_STATES, type ClientSummary, type HostProfileRow, type ViaFields } from '../types.js';

/** MISSING_STATES as an SQL list, for `state IN (…)`. */
export const MISSING_SQL = MISSING_STATES.map((s) => `'${s}'`).join(', ');

/** The columns of a host's profile, aliased as ProfileRow names them. */
export const PROFILE_COLUMNS = `c.host_id AS "hostId", c.hostname, c.last_seen_at AS "lastSeenAt", c.platform,
  c.products, c.pending_reboot AS "pendingReboot", c.via`;

/** The columns of a client summary or detail, aliased as ClientRow names them. */
export const CLIENT_COLUMNS = `${PROFILE_COLUMNS}, c.daemon_version AS "daemonVersion",
  c.reported_at AS "reportedAt", c.via_path AS "viaPath", c.instance_id AS "instanceId"`;

/** An event as StoredEvent names its fields, in the order the SQLite store gives them. */
export const EVENT_COLUMNS = `id, host_id AS "hostId", seq, type, patch_id AS "patchId", at, outcome, message,
  received_at AS "receivedAt", instance_id AS "instanceId", output`;

/** A host's client instances, newest first (`$1` the host). */
export const INSTANCES_OF_HOST = `SELECT instance_id AS "instanceId", first_seen_at AS "firstSeenAt",
  last_seen_at AS "lastSeenAt" FROM reports.client_instances WHERE host_id = $1
  ORDER BY first_seen_at DESC, instance_id`;

export interface ProfileRow {
  hostId: string;
  hostname: string;
  lastSeenAt: string;
  platform: string;
  products: HostProfileRow['products'];
  pendingReboot: boolean;
  via: string | null;
}

export interface ClientRow extends ProfileRow {
  daemonVersion: string;
  reportedAt: string;
  viaPath: string[] | null;
  instanceId: string | null;
}

/** A row of client_patches, its patch_id as `id`. */
export interface PatchRow {
  id: string;
  state: PatchState;
  since: string | null;
  reason: string | null;
  cached: boolean | null;
}

/** A host as its last report describes it. */
export function profileOf(row: ProfileRow): HostProfileRow {
  const { via, ...profile } = row;
  return via === null ? profile : { ...profile, via };
}

/** The via extension fields of a host behind a branch (none for a host that reports itself). */
function viaOf(row: Pick<ClientRow, 'via' | 'viaPath'>): ViaFields {
  if (row.via === null) return {};
  const path = row.viaPath ?? [];
  return path.length > 1 ? { via: row.via, viaPath: path } : { via: row.via };
}

/** A client summary's columns, its counts included; products as text, parsed once per list (SummaryRow). */
export const SUMMARY_COLUMNS = `c.host_id AS "hostId", c.hostname, c.platform, c.daemon_version AS "daemonVersion",
  c.last_seen_at AS "lastSeenAt", c.products::text AS products, c.pending_reboot AS "pendingReboot", c.via,
  c.via_path AS "viaPath", c.installed, c.missing, c.failed`;

export type SummaryRow = Omit<SummaryFields, 'products'> &
  Pick<ClientSummary, 'installed' | 'missing' | 'failed'> & { products: string };

/** The columns clientFields reads. */
type SummaryFields = Pick<
  ClientRow,
  | 'hostId'
  | 'hostname'
  | 'platform'
  | 'daemonVersion'
  | 'lastSeenAt'
  | 'products'
  | 'pendingReboot'
  | 'via'
  | 'viaPath'
>;

/** A client summary but its patch counts, its fields in the order /v1/clients sends them. */
export function clientFields(row: SummaryFields): Omit<ClientSummary, 'installed' | 'missing' | 'failed'> {
  return {
    hostId: row.hostId,
    hostname: row.hostname,
    platform: row.platform,
    daemonVersion: row.daemonVersion,
    lastSeenAt: row.lastSeenAt,
    products: row.products,
    pendingReboot: row.pendingReboot,
    ...viaOf(row),
  };
}
