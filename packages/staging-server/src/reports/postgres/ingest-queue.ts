// ingestSoon: reports that arrive while a commit is under way are stored together in the
// next transaction (one commit, one revision bump for all of them), each answered once
// that commit is done. One that fails fails alone: the shared transaction is then undone
// and each of its reports stored in a transaction of its own, so the others are stored and
// only the failing one is refused. Failures are rare (a report the schema let through but
// the database refuses), so the common path carries no savepoint per report.
import type { ClientReport } from '@patchbay/core';
import type { IngestResult, ReportOrigin } from '../types.js';
import { finishIngest, type IngestAll } from './ingest-one.js';
import { isRetryable, type ReportsDatabase } from './reports-database.js';

/** Most reports one shared commit takes: bounds how long the first one waits. */
const INGEST_BATCH = 256;

interface PendingIngest {
  report: ClientReport;
  origin: ReportOrigin | null;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

type IngestAlone = (
  report: ClientReport,
  receivedAt: string,
  origin: ReportOrigin | null,
) => Promise<IngestResult>;

export class IngestQueue {
  private readonly pending: PendingIngest[] = [];
  /** the batches being stored, one after another; undefined when idle */
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: ReportsDatabase,
    private readonly ingestAll: IngestAll,
    private readonly ingestAlone: IngestAlone,
  ) {}

  add(report: ClientReport, origin: ReportOrigin | null): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ report, origin, resolve, reject });
      // Reports of the same event-loop turn join the first one's batch.
      this.running ??= new Promise<void>((done) => setImmediate(done)).then(() => this.storeAll());
    });
  }

  /** Resolves once every report queued so far is stored (or refused). */
  async drain(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async storeAll(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.storeBatch(this.pending.splice(0, INGEST_BATCH));
    } finally {
      this.running = undefined;
    }
  }

  private async storeBatch(batch: PendingIngest[]): Promise<void> {
    const receivedAt = new Date().toISOString();
    let results: IngestResult[];
    try {
      // Several hosts per statement, in hostId order (ingest-one.ts).
      results = await this.db.transaction(`storing ${batch.length} reports`, async (sql) => {
        const stored = await this.ingestAll(
          sql,
          batch.map((item) => ({ report: item.report, receivedAt, origin: item.origin })),
        );
        await finishIngest(sql);
        return stored;
      });
    } catch (err) {
      // The database out of reach fails them all alike: trying each alone would only wait longer.
      if (isRetryable((err as { cause?: unknown }).cause ?? err)) {
        for (const item of batch) item.reject(err);
        return;
      }
      // Which report failed is told apart by storing each alone.
      for (const item of batch)
        await this.ingestAlone(item.report, receivedAt, item.origin).then(item.resolve, item.reject);
      return;
    }
    batch.forEach((item, i) => item.resolve(results[i]!));
  }
}
