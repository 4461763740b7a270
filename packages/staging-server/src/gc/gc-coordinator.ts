// The mirror's side of gc: one gc at a time, never beside a sync (the mirror refuses a gc
// while a sync runs and makes a sync wait for a running gc), and the /v1/status storage
// figures, cached and recomputed after syncs and gc.
import { ErrorCodes, PatchbayError, type Catalog, type Logger } from '@patchbay/core';
import type { GcResult, GcSummary, StorageStatus } from '../mirror.js';
import { collectGarbage } from './collector.js';
import { readLastGc, writeLastGc } from './last-gc.js';

export interface GcCoordinatorDeps {
  dataDir: string;
  protectionDays: number;
  logger: Logger;
  /** the catalog being served */
  current(): Catalog | null;
  /** start of the running sync (epoch ms), or null when none runs */
  syncStartedAt(): number | null;
}

/** figures older than this are recomputed: the protection window moves with the clock */
const FIGURES_MAX_AGE_MS = 10 * 60_000;

export class GcCoordinator {
  private running: Promise<GcResult> | null = null;
  private figures: { value: Omit<StorageStatus, 'lastGc'>; at: number } | null = null;
  private computing: Promise<Omit<StorageStatus, 'lastGc'>> | null = null;
  /** bumped by invalidate(): a computation started before it is not cached */
  private generation = 0;
  private lastGc: GcSummary | null | undefined;

  constructor(private readonly deps: GcCoordinatorDeps) {}

  isRunning(): boolean {
    return this.running !== null;
  }

  /** Settles when no gc runs (a sync awaits this before it touches the store). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  /** The caller (the mirror) has checked that no sync runs. */
  run(opts: { dryRun?: boolean } = {}): Promise<GcResult> {
    if (this.running) {
      throw new PatchbayError(ErrorCodes.LOCKED, 'a garbage collection is already running', {
        dataDir: this.deps.dataDir,
      });
    }
    this.running = this.execute(opts.dryRun ?? false).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async execute(dryRun: boolean): Promise<GcResult> {
    const result = await collectGarbage({
      dataDir: this.deps.dataDir,
      current: this.deps.current(),
      protectionDays: this.deps.protectionDays,
      dryRun,
      logger: this.deps.logger,
    });
    if (!dryRun) {
      this.invalidate();
      this.lastGc = await writeLastGc(this.deps.dataDir, result);
    }
    return result;
  }

  /** Forget the cached figures (after a sync published, after a gc). */
  invalidate(): void {
    this.generation++;
    this.figures = null;
  }

  async storage(): Promise<StorageStatus> {
    if (this.lastGc === undefined) this.lastGc = await readLastGc(this.deps.dataDir);
    const fresh = this.figures !== null && Date.now() - this.figures.at < FIGURES_MAX_AGE_MS;
    const value = fresh && this.figures ? this.figures.value : await this.compute();
    return { ...value, lastGc: this.lastGc };
  }

  private compute(): Promise<Omit<StorageStatus, 'lastGc'>> {
    if (this.computing) return this.computing;
    const generation = this.generation;
    const syncStartedAt = this.deps.syncStartedAt();
    this.computing = collectGarbage({
      dataDir: this.deps.dataDir,
      current: this.deps.current(),
      protectionDays: this.deps.protectionDays,
      dryRun: true,
      logger: this.deps.logger,
      ...(syncStartedAt !== null ? { spareNewerThan: syncStartedAt } : {}),
    })
      .then((plan) => {
        const value = {
          blobs: plan.keptBlobs + plan.removedBlobs,
          bytes: plan.keptBytes + plan.reclaimedBytes,
          reclaimableBytes: plan.reclaimedBytes,
        };
        // Not cached while a sync runs (its end invalidates anyway) or after an invalidation.
        if (generation === this.generation && syncStartedAt === null)
          this.figures = { value, at: Date.now() };
        return value;
      })
      .finally(() => {
        this.computing = null;
      });
    return this.computing;
  }
}
