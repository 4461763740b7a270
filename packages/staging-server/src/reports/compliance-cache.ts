// Keeps what the compliance report derived from the fleet until a report changes it
// (ReportStore.revision()): at 10,000 hosts reading every state costs about half a second,
// and the status page asks for one page after another of the same host matrix.
import type { HostMatrix } from './compliance.js';
import type { ReportStore } from './report-store.js';
import type { FleetRead } from './types.js';

/**
 * One value read from the store, read again only after a report moved its revision. Readers
 * at one revision share the read under way; a reader that saw a later revision does not take
 * a read started before it: it would miss a report that was acknowledged before it asked.
 */
export class ByRevision<T> {
  private kept: { revision: number; value: T } | null = null;
  private reading: { revision: number; read: Promise<T> } | null = null;

  constructor(
    private readonly revision: () => Promise<number>,
    private readonly load: () => Promise<T>,
  ) {}

  async get(): Promise<T> {
    const revision = await this.revision();
    if (this.kept?.revision === revision) return this.kept.value;
    if (this.reading?.revision !== revision) {
      const read: Promise<T> = this.load()
        .then((value) => {
          this.kept = { revision, value };
          return value;
        })
        .finally(() => {
          if (this.reading?.read === read) this.reading = null;
        });
      this.reading = { revision, read };
    }
    return this.reading.read;
  }
}

/** Holds one fleet read and the last host matrix built from it; callers must not mutate either. */
export class ComplianceCache {
  private readonly fleetReads: ByRevision<FleetRead>;
  private matrix: { key: string; fleet: FleetRead; matrix: HostMatrix } | null = null;

  constructor(store: Pick<ReportStore, 'revision' | 'hostProfiles' | 'allStates'>) {
    this.fleetReads = new ByRevision(
      () => store.revision(),
      async () => {
        const [hosts, states] = await Promise.all([store.hostProfiles(), store.allStates()]);
        return { hosts, states };
      },
    );
  }

  /** Every host's profile and every reported state, read again only after a report. */
  fleet(): Promise<FleetRead> {
    return this.fleetReads.get();
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
}
