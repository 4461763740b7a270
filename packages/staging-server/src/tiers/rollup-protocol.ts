// The report rollup (tiered mirrors): a branch staging server PUTs a summary of its own
// clients' reports to its parent at /v1/branches/:branchId/rollup. Each host entry is a
// client report (CONTRACT §2 shape: the host's last snapshot plus events not yet
// forwarded), so the parent stores it exactly as a report and dedups by (hostId, seq).
import { HOST_ID_PATTERN, REPORT_SCHEMA, type ClientReport } from '@patchbay/core';

export const ROLLUP_FORMAT = 'patchbay-rollup/1';

/** The parent's endpoint for a branch's rollup. */
export function rollupPath(branchId: string): string {
  return `/v1/branches/${encodeURIComponent(branchId)}/rollup`;
}

export interface RollupHost {
  /** the host's last report (without the events already forwarded) plus its new events */
  report: ClientReport;
  /** branches between the host and the sender, nearest the sender first ([]: the host reports to the sender) */
  via?: string[];
  /** their mirror key fingerprints, same order */
  viaKeys?: string[];
  /** when the sender last heard from the host (its lastSeenAt) */
  lastSeenAt?: string;
}

export interface RollupBody {
  format: typeof ROLLUP_FORMAT;
  branchId: string;
  /** the sender's mirror key fingerprint (loop detection) */
  mirror: string;
  sentAt: string;
  hosts: RollupHost[];
}

export interface RollupAnswer {
  /** events newly stored (0 for a resend) */
  accepted: number;
  /** host entries stored */
  hosts: number;
  /** host entries the parent will not take from this branch, with the reason (not retried) */
  refused: { hostId: string; reason: string }[];
}

/** Most host entries in one rollup request. */
export const ROLLUP_MAX_HOSTS = 1000;
const FINGERPRINT = { type: 'string', pattern: '^[0-9a-f]{8,64}$' } as const;
const MAX_DEPTH = 32;

/** REPORT_SCHEMA without its $id, so it can sit inside another schema. */
const { $id: _reportId, ...REPORT_ITEM } = REPORT_SCHEMA;

/** JSON Schema of a rollup body (the route validates with it, no coercion). */
export const ROLLUP_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['format', 'branchId', 'mirror', 'hosts'],
  properties: {
    format: { const: ROLLUP_FORMAT },
    branchId: { type: 'string', pattern: HOST_ID_PATTERN },
    mirror: FINGERPRINT,
    sentAt: { type: 'string', format: 'date-time', maxLength: 64 },
    hosts: {
      type: 'array',
      maxItems: ROLLUP_MAX_HOSTS,
      items: {
        type: 'object',
        required: ['report'],
        properties: {
          report: REPORT_ITEM,
          via: { type: 'array', maxItems: MAX_DEPTH, items: { type: 'string', pattern: HOST_ID_PATTERN } },
          viaKeys: { type: 'array', maxItems: MAX_DEPTH, items: FINGERPRINT },
          lastSeenAt: { type: 'string', format: 'date-time', maxLength: 64 },
        },
      },
    },
  },
};
