// Keeps what the compliance report derived from the fleet until a report changes it
// (ReportStore.revision()): at 10,000 hosts reading every state costs about half a second,
// and the status page asks for one page after another of the same host matrix.
import type { HostMatrix } from './compliance.js';
import type { ReportStore } from './report-store.js';
import type { FleetRead } from './types.js';

/** Holds one fleet read and the last host matrix built from it; callers must not mutate either. */
export class ComplianceCache {
  private fleetRevision = -1;
  private fleetRead: FleetRead | null = null;
  /** The read under way and the revision it was started at: readers at that revision share it. */
  private reading: { revision: number; read: Promise<FleetRead> } | null = null;
  private matrix: { key: string; fleet: FleetRead; matrix: HostMatrix } | null = null;

  constructor(private readonly store: Pick<ReportStore, 'revision' | 'hostProfiles' | 'allStates'>) {}

  /** Every host's profile and every reported state, read again only after a report. */
  async fleet(): Promise<FleetRead> {
    const revision = await this.store.revision();
    if (this.fleetRead !== null && revision === this.fleetRevision) return this.fleetRead;
    // A reader that saw a later revision does not take a read started before it: it would
    // miss a report that was acknowledged before it asked.
    if (this.reading?.revision !== revision) {
      const read: Promise<FleetRead> = this.readFleet(revision).finally(() => {
        if (this.reading?.read === read) this.reading = null;
      });
      this.reading = { revision, read };
    }
    return this.reading.read;
  }

  /**
   * The host matrix for `key` (everything that selects its patches and hosts: catalog
   * sequence and filters), built by `build` from the fleet unless the last one matches.
   */
  async hostMatrix(key: string, build: (fleet: FleetRead) => HostMatrix): Promise<HostMatrix> {
    const fleet = await this.fleet();
    if (this.matrix?.key !== key || this.matrix.fleet !== fleet)
      this.matrix = { key, fleet, matrix: build(fleet) };
    return this.matrix.matrix;
  }

  private async readFleet(revision: number): Promise<FleetRead> {
    const [hosts, states] = await Promise.all([this.store.hostProfiles(), this.store.allStates()]);
    const read: FleetRead = { hosts, states };
    this.fleetRead = read;
    this.fleetRevision = revision;
    return read;
  }
}
