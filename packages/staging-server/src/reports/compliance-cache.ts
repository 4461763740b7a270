// Keeps what the compliance report derived from the fleet until a report changes it
// (ReportStore.revision()): at 10,000 hosts reading every state costs about half a second,
// and the status page asks for one page after another of the same host matrix.
import type { PatchState } from '@patchbay/core';
import type { HostMatrix } from './compliance.js';
import type { ReportStore } from './report-store.js';
import type { HostProfileRow } from './types.js';

export interface FleetRead {
  hosts: readonly HostProfileRow[];
  states: ReadonlyMap<string, ReadonlyMap<string, PatchState>>;
}

/** Holds one fleet read and the last host matrix built from it; callers must not mutate either. */
export class ComplianceCache {
  private fleetRevision = -1;
  private fleetRead: FleetRead | null = null;
  private matrixKey: string | null = null;
  private matrix: HostMatrix | null = null;

  constructor(private readonly store: Pick<ReportStore, 'revision' | 'hostProfiles' | 'allStates'>) {}

  /** Every host's profile and every reported state, read again only after a report. */
  fleet(): FleetRead {
    const revision = this.store.revision();
    if (this.fleetRead === null || revision !== this.fleetRevision) {
      this.fleetRead = { hosts: this.store.hostProfiles(), states: this.store.allStates() };
      this.fleetRevision = revision;
      this.matrixKey = null;
      this.matrix = null;
    }
    return this.fleetRead;
  }

  /**
   * The host matrix for `key` (everything that selects its patches and hosts: catalog
   * sequence and filters), built by `build` from the fleet unless the last one matches.
   */
  hostMatrix(key: string, build: (fleet: FleetRead) => HostMatrix): HostMatrix {
    const fleet = this.fleet();
    if (this.matrix === null || this.matrixKey !== key) {
      this.matrix = build(fleet);
      this.matrixKey = key;
    }
    return this.matrix;
  }
}
