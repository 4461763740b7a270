// Patches Installed — current with every host (the compliance report's per-patch view and
// its `hosts` map), a patch at a time: each row from that patch's states alone, so memory
// holds one patch × the fleet, never the whole matrix (2.5 million states at 100,000 hosts
// × 25 patches), and the answer can leave as each row is made.
import type { FeedPatch, PatchState } from '@patchbay/core';
import {
  complianceRow,
  groupByProfile,
  relevantGroups,
  type ComplianceRow,
  type PatchColumn,
} from './compliance.js';
import type { FleetExports } from './report-store.js';
import type { HostProfileRow } from './types.js';

const NO_STATES: ReadonlyMap<string, PatchState> = new Map();

/**
 * The rows buildCompliance makes, one page per patch in the order given. Each row comes from
 * one read of its patch's states; rows are read one after another, so a report stored
 * meanwhile may show in a later row and not in an earlier one.
 */
export async function* complianceByPatch(
  store: Pick<FleetExports, 'patchStates'>,
  patches: readonly FeedPatch[],
  hosts: readonly HostProfileRow[],
): AsyncGenerator<ComplianceRow[]> {
  const groups = groupByProfile(hosts);
  for (const patch of patches) {
    // A patch relevant to no host has an empty row: its states are not read.
    const states = relevantGroups(patch, groups).length === 0 ? NO_STATES : await store.patchStates(patch.id);
    yield [complianceRow(patch, groups, states)];
  }
}

/** The rows of the pages without their per-host maps (one host's counts). */
export async function countsOfRows(pages: AsyncIterable<ComplianceRow[]>): Promise<PatchColumn[]> {
  const rows: PatchColumn[] = [];
  for await (const page of pages) rows.push(...page.map(({ hosts: _hosts, via: _via, ...counts }) => counts));
  return rows;
}
