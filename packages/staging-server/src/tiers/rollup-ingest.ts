// The parent side of the report rollup: which host entries of a branch's rollup are
// stored, marked with the branch. A branch's token lets it report hosts that are its own:
// never a host that reports to this server itself, has its own live token here, or
// already reports through another branch. So "a host token can report only as itself"
// stays true: a host with its own token is written by that token alone.
import { ErrorCodes, PatchbayError, type ClientReport } from '@patchbay/core';
import type { ReportOrigin } from '../reports/types.js';
import { describeChain } from './mirror-chain.js';
import type { RollupAnswer, RollupBody } from './rollup-protocol.js';

export interface AcceptedHost {
  report: ClientReport;
  origin: ReportOrigin;
  receivedAt: string;
}

export interface RollupPlan {
  accepted: AcceptedHost[];
  refused: RollupAnswer['refused'];
}

export interface RollupChecks {
  /** undefined: never heard of; via null: reports itself; else its branch */
  originOf(hostId: string): { via: string | null } | undefined;
  /** true when hostId holds a live report token at this server */
  hasOwnToken(hostId: string): boolean;
  /** this mirror's key fingerprint (null when it has none yet) */
  fingerprint: string | null;
  /** ISO instant of now: a branch's lastSeenAt is never taken from the future */
  now: string;
}

/**
 * Throws PB_ERR_MIRROR_LOOP when a host entry has already passed through this server
 * (its chain holds this mirror's fingerprint, or the branch is this mirror itself).
 */
export function assertRollupNoLoop(body: RollupBody, fingerprint: string | null): void {
  if (fingerprint === null) return;
  for (const host of body.hosts) {
    const chain = [body.mirror, ...(host.viaKeys ?? [])];
    if (!chain.includes(fingerprint)) continue;
    throw new PatchbayError(
      ErrorCodes.MIRROR_LOOP,
      `rollup from branch "${body.branchId}": host "${host.report.hostId}" already passed through this server ` +
        `(key ${fingerprint}; chain ${describeChain([...chain].reverse())}): rollups form a loop; ` +
        `point rollup.url of one of these servers elsewhere [${ErrorCodes.MIRROR_LOOP}]`,
      { branchId: body.branchId, hostId: host.report.hostId, chain, mirror: fingerprint },
    );
  }
}

/** Sort a (validated, normalised) rollup's hosts into those stored and those refused, with the reason. */
export function planRollup(body: RollupBody, checks: RollupChecks): RollupPlan {
  const plan: RollupPlan = { accepted: [], refused: [] };
  const branch = body.branchId;
  for (const host of body.hosts) {
    const { hostId } = host.report;
    const known = checks.originOf(hostId);
    let reason: string | null = null;
    if (known !== undefined && known.via === null)
      reason = `host "${hostId}" reports to this server directly`;
    else if (known !== undefined && known.via !== branch)
      reason = `host "${hostId}" reports through branch "${known.via}"`;
    else if (checks.hasOwnToken(hostId))
      reason = `host "${hostId}" has its own report token here: a host token reports only as itself`;
    if (reason !== null) {
      plan.refused.push({ hostId, reason });
      continue;
    }
    const seen = host.lastSeenAt !== undefined ? new Date(host.lastSeenAt).toISOString() : checks.now;
    plan.accepted.push({
      report: host.report,
      origin: { path: [branch, ...(host.via ?? [])], keys: [body.mirror, ...(host.viaKeys ?? [])] },
      receivedAt: seen < checks.now ? seen : checks.now,
    });
  }
  return plan;
}
