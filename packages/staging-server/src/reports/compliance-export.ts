// Patches Installed — current with every host (the compliance report's per-patch view and
// its `hosts` map), a patch at a time: each row from that patch's states alone, its hosts
// map made as JSON text in parts, so memory holds one patch × the fleet, never the whole
// matrix (2.5 million states at 100,000 hosts × 25 patches) nor an object per cell, and
// the answer can leave as each row is made.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FeedPatch, PatchState } from '@patchbay/core';
import {
  eachRelevantHost,
  groupByProfile,
  patchRow,
  relevantGroups,
  type ComplianceState,
  type PatchColumn,
  type ProfileGroup,
} from './compliance.js';
import type { FleetExports } from './report-store.js';
import type { HostProfileRow } from './types.js';

/** Hosts of a row's map in one part of its text. */
export const HOSTS_PER_PART = 5000;

/** One patch's row of buildCompliance with its `hosts` map (and `via`) as JSON text. */
export interface ComplianceRowText {
  /** the row but its `hosts` and `via`, its fields in the order of buildCompliance's */
  counts: PatchColumn;
  /**
   * the map's members (`"hostId":"state"`, in buildCompliance's order), without its braces,
   * HOSTS_PER_PART a part; each part after the first begins with its comma
   */
  hosts: string[];
  /** hostId → branch, for the hosts in the map that report through one */
  via?: Record<string, string>;
}

const NO_STATES: ReadonlyMap<string, PatchState> = new Map();

/** The JSON of each state, made once. */
const stateJson = new Map<string, string>();
const jsonOf = (state: ComplianceState): string => {
  let json = stateJson.get(state);
  if (json === undefined) stateJson.set(state, (json = JSON.stringify(state)));
  return json;
};

function complianceRowText(
  patch: FeedPatch,
  groups: readonly ProfileGroup[],
  statesOfPatch: ReadonlyMap<string, PatchState>,
): ComplianceRowText {
  const { hosts: _hosts, ...counts } = patchRow(patch);
  const row: ComplianceRowText = { counts, hosts: [] };
  let part = '';
  let inPart = 0;
  let separator = '';
  eachRelevantHost(patch, groups, statesOfPatch, counts, (host, state) => {
    part += separator + JSON.stringify(host.hostId) + ':' + jsonOf(state);
    separator = ',';
    if (host.via !== undefined) (row.via ??= {})[host.hostId] = host.via;
    if (++inPart === HOSTS_PER_PART) {
      row.hosts.push(part);
      part = '';
      inPart = 0;
    }
  });
  if (part !== '') row.hosts.push(part);
  return row;
}

/** Hosts' profiles read at a time (about 70 ms of SQLite at 100,000 hosts). */
export const HOSTS_PER_READ = 10_000;

/** Every host's profile, by hostId, read a page at a time with a turn of the event loop between reads. */
export async function readHostProfiles(
  store: Pick<FleetExports, 'hostProfilesPage'>,
  pageSize = HOSTS_PER_READ,
): Promise<HostProfileRow[]> {
  const hosts: HostProfileRow[] = [];
  for (let after = ''; ; await nextTurn()) {
    const page = await store.hostProfilesPage({ after, limit: pageSize });
    hosts.push(...page);
    const last = page.at(-1);
    if (last === undefined || page.length < pageSize) return hosts;
    after = last.hostId;
  }
}

/**
 * The rows buildCompliance makes, one page per patch in the order given. Each row comes from
 * one read of its patch's states; rows are read one after another, so a report stored
 * meanwhile may show in a later row and not in an earlier one.
 */
export async function* complianceByPatch(
  store: Pick<FleetExports, 'patchStates'>,
  patches: readonly FeedPatch[],
  hosts: readonly HostProfileRow[],
): AsyncGenerator<ComplianceRowText[]> {
  const groups = groupByProfile(hosts);
  for (const patch of patches) {
    // A read of SQLite holds the event loop: requests that came meanwhile go first.
    await nextTurn();
    // A patch relevant to no host has an empty row: its states are not read.
    const states = relevantGroups(patch, groups).length === 0 ? NO_STATES : await store.patchStates(patch.id);
    yield [complianceRowText(patch, groups, states)];
  }
}

/** The counts of the rows of the pages (the rows without their maps). */
export async function countsOfRows(pages: AsyncIterable<ComplianceRowText[]>): Promise<PatchColumn[]> {
  const rows: PatchColumn[] = [];
  for await (const page of pages) rows.push(...page.map((row) => row.counts));
  return rows;
}
