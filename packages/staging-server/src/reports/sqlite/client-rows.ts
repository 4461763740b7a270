// The rows of the clients and client_patches tables, and what they become for callers.
import type { PatchState, ReportPatch } from '@patchbay/core';
import { MISSING_STATES, type ClientSummary, type ViaFields } from '../types.js';

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
}

/** A host's client instances, newest first (ingest notes a new one; a client's detail lists them). */
export const INSTANCES_OF_HOST =
  'SELECT instanceId, firstSeenAt, lastSeenAt FROM client_instances WHERE hostId = ? ORDER BY firstSeenAt DESC, instanceId';

/** MISSING_STATES as an SQL list, for `state IN (…)`. */
export const MISSING_SQL = MISSING_STATES.map((s) => `'${s}'`).join(', ');

/**
 * A reported patch as the client may send it (since and reason are optional; `cached`
 * is the extension newer clients send).
 */
export type StoredPatch = Omit<ReportPatch, 'since'> & { since?: string; reason?: string };

/** A row of `client_patches`, its patchId as `id`. */
export interface PatchRow {
  id: string;
  state: PatchState;
  since: string | null;
  reason: string | null;
  cached: number | null;
}

export function toStoredPatch(row: PatchRow): StoredPatch {
  const patch: StoredPatch = { id: row.id, state: row.state };
  if (row.since !== null) patch.since = row.since;
  if (row.reason !== null) patch.reason = row.reason;
  if (row.cached !== null) patch.cached = row.cached === 1;
  return patch;
}

/** The via extension fields of a host behind a branch (none for a host that reports itself). */
function viaFields(row: ClientRow): ViaFields {
  if (row.via === null) return {};
  const path = JSON.parse(row.viaPath ?? '[]') as string[];
  return path.length > 1 ? { via: row.via, viaPath: path } : { via: row.via };
}

export function summaryFields(row: ClientRow): Omit<ClientSummary, 'installed' | 'missing' | 'failed'> {
  return {
    hostId: row.hostId,
    hostname: row.hostname,
    platform: row.platform,
    daemonVersion: row.daemonVersion,
    lastSeenAt: row.lastSeenAt,
    products: JSON.parse(row.products) as ClientSummary['products'],
    pendingReboot: row.pendingReboot === 1,
    ...viaFields(row),
  };
}
