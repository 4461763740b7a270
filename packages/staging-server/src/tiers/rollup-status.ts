// <dataDir>/rollup-status.json: the branch's last rollup as GET /v1/rollup shows it.
// A file rather than memory, so the route (built before the sender starts) and a later
// process read the same facts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@patchbay/core';
import type { RollupAnswer } from './rollup-protocol.js';

/** What the branch's sender (rollup-sender.ts) knows of its last rollup. */
export interface RollupStatus {
  parent: string;
  branchId: string;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  /** the last failure's message (null after a success) */
  error: string | null;
  /** consecutive failures; the retry waits longer after each */
  failures: number;
  nextRetryAt: string | null;
  /** figures of the last successful run */
  lastRun: { requests: number; hosts: number; accepted: number; refused: RollupAnswer['refused'] } | null;
  /** the latest hosts skipped as too large for the parent (newest last, at most rollup-sender.ts MAX_SKIPPED_KEPT) */
  skipped: RollupSkipped[];
}

/** A host whose entry the parent refused as too large (413) even alone with one event. */
export interface RollupSkipped {
  hostId: string;
  /** the snapshot (lastSeenAt) skipped: a newer report is tried again */
  lastSeenAt: string;
  /** events of this host passed over with it */
  events: number;
  /** JSON bytes of the smallest entry tried */
  bytes: number;
  at: string;
  error: string;
}

export const ROLLUP_STATUS_FILE = 'rollup-status.json';

export async function writeRollupStatus(dataDir: string, status: RollupStatus): Promise<void> {
  await writeFileAtomic(join(dataDir, ROLLUP_STATUS_FILE), `${JSON.stringify(status)}\n`);
}

/** The last status written, or null before the first rollup. */
export async function readRollupStatus(dataDir: string): Promise<RollupStatus | null> {
  try {
    return JSON.parse(await readFile(join(dataDir, ROLLUP_STATUS_FILE), 'utf8')) as RollupStatus;
  } catch {
    return null;
  }
}
