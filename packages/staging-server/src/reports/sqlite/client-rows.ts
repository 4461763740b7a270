// The rows of the clients and client_patches tables, and what they become for callers.
import type Database from 'better-sqlite3';
import type { PatchState } from '@patchbay/core';
import { storedPatch } from '../stored-rows.js';
import {
  MISSING_STATES,
  type ClientSummary,
  type HostProfileRow,
  type StoredPatch,
  type ViaFields,
} from '../types.js';

/** A row of `clients` (schema.ts, migrations.ts). */
export interface ClientRow {
  hostId: string;
  hostname: string;
  platform: string;
  daemonVersion: string;
  products: string;
  lastSeenAt: string;
  reportedAt: string;
  lastReport: string;
  pendingReboot: number;
  via: string | null;
  viaPath: string | null;
  viaKeys: string | null;
  instanceId: string | null;
  /** the host's patches per state class, written with the row by the ingest (snapshot.ts; migrations.ts version 6) */
  installed: number;
  failed: number;
  missing: number;
  superseded: number;
}

/** A host's client instances, newest first (ingest notes a new one; a client's detail lists them). */
export const INSTANCES_OF_HOST =
  'SELECT instanceId, firstSeenAt, lastSeenAt FROM client_instances WHERE hostId = ? ORDER BY firstSeenAt DESC, instanceId';

/** MISSING_STATES as an SQL list, for `state IN (…)`. */
export const MISSING_SQL = MISSING_STATES.map((s) => `'${s}'`).join(', ');

/** A row of `client_patches`, its patchId as `id`. */
export interface PatchRow {
  id: string;
  state: PatchState;
  since: string | null;
  reason: string | null;
  cached: number | null;
}

/** A stored patch from its row (SQLite keeps `cached` as 0/1). */
export function toStoredPatch(row: PatchRow): StoredPatch {
  return storedPatch({ ...row, cached: row.cached === null ? null : row.cached === 1 });
}

/** The via extension fields of a host behind a branch (none for a host that reports itself). */
function viaFields(row: Pick<ClientRow, 'via' | 'viaPath'>): ViaFields {
  if (row.via === null) return {};
  const path = JSON.parse(row.viaPath ?? '[]') as string[];
  return path.length > 1 ? { via: row.via, viaPath: path } : { via: row.via };
}

/** The columns of `clients` a host profile is read from. */
export type ProfileColumns = Pick<
  ClientRow,
  'hostId' | 'hostname' | 'lastSeenAt' | 'platform' | 'products' | 'pendingReboot' | 'via'
>;

/** A host as its last report describes it (the compliance views read every host's). */
export function hostProfile(row: ProfileColumns): HostProfileRow {
  return {
    hostId: row.hostId,
    hostname: row.hostname,
    lastSeenAt: row.lastSeenAt,
    platform: row.platform,
    products: JSON.parse(row.products) as HostProfileRow['products'],
    pendingReboot: row.pendingReboot === 1,
    ...(row.via !== null ? { via: row.via } : {}),
  };
}

/** The columns of `clients` a client summary is read from, its counts included (SUMMARY_COLUMNS). */
export type SummaryColumns = ProfileColumns &
  Pick<ClientRow, 'daemonVersion' | 'viaPath'> &
  Pick<ClientSummary, 'installed' | 'missing' | 'failed'>;

/** The columns of SummaryColumns, for a SELECT (the wide lastReport is not among them). */
export const SUMMARY_COLUMNS =
  'hostId, hostname, platform, daemonVersion, lastSeenAt, products, pendingReboot, via, viaPath, installed, missing, failed';

/**
 * A client summary but its patch counts, its fields in the order /v1/clients has always sent
 * them; `products` when the caller parsed the row's already (a list shares one parse per text).
 */
export function summaryFields(
  row: Omit<SummaryColumns, 'installed' | 'missing' | 'failed'>,
  products: ClientSummary['products'] = JSON.parse(row.products) as ClientSummary['products'],
): Omit<ClientSummary, 'installed' | 'missing' | 'failed'> {
  return {
    hostId: row.hostId,
    hostname: row.hostname,
    platform: row.platform,
    daemonVersion: row.daemonVersion,
    lastSeenAt: row.lastSeenAt,
    products,
    pendingReboot: row.pendingReboot === 1,
    ...viaFields(row),
  };
}

/**
 * hostId → value, for those of `hostIds` a raw statement finds; the statement takes the
 * ids as one JSON array (json_each) and yields [hostId, value] rows.
 */
export function valuesByHost<V>(
  statement: Database.Statement<[string], [string, V]>,
  hostIds: Iterable<string>,
): Map<string, V> {
  return new Map(statement.all(JSON.stringify([...new Set(hostIds)])));
}

/** SUMMARY_COLUMNS as a raw row (an array: no object per row of a list of 100,000). */
export type SummaryTuple = [
  hostId: string,
  hostname: string,
  platform: string,
  daemonVersion: string,
  lastSeenAt: string,
  products: string,
  pendingReboot: number,
  via: string | null,
  viaPath: string | null,
  installed: number,
  missing: number,
  failed: number,
];

/** A client summary from its raw row, `products` parsed by the caller. */
export function clientSummary(row: SummaryTuple, products: ClientSummary['products']): ClientSummary {
  const [hostId, hostname, platform, daemonVersion, lastSeenAt, text, reboot, via, viaPath, ...counts] = row;
  const [installed, missing, failed] = counts;
  const pendingReboot = reboot === 1;
  if (via === null)
    return {
      hostId,
      hostname,
      platform,
      daemonVersion,
      lastSeenAt,
      products,
      pendingReboot,
      installed,
      missing,
      failed,
    };
  // Behind a branch (rare): the via fields as summaryFields places them.
  const columns = {
    hostId,
    hostname,
    platform,
    daemonVersion,
    lastSeenAt,
    products: text,
    pendingReboot: reboot,
  };
  return { ...summaryFields({ ...columns, via, viaPath }, products), installed, missing, failed };
}
