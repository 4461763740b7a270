// <dataDir>/gc-last.json: the last gc that removed for real, so /v1/status shows it
// after a restart and after a `patchbay-server gc` run by hand.
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from '@patchbay/core';
import type { GcResult, GcSummary } from '../mirror.js';

export const LAST_GC_FILE = 'gc-last.json';

export function lastGcPath(dataDir: string): string {
  return join(dataDir, LAST_GC_FILE);
}

/** null when no gc ran yet, or the file is unreadable (it is only informative). */
export async function readLastGc(dataDir: string): Promise<GcSummary | null> {
  try {
    const doc = await readJsonFile<Partial<GcSummary>>(lastGcPath(dataDir));
    if (
      typeof doc?.at !== 'string' ||
      typeof doc.removedBlobs !== 'number' ||
      typeof doc.reclaimedBytes !== 'number'
    ) {
      return null;
    }
    return { at: doc.at, removedBlobs: doc.removedBlobs, reclaimedBytes: doc.reclaimedBytes };
  } catch {
    return null;
  }
}

export async function writeLastGc(dataDir: string, result: GcResult): Promise<GcSummary> {
  const summary: GcSummary = {
    at: result.at,
    removedBlobs: result.removedBlobs,
    reclaimedBytes: result.reclaimedBytes,
  };
  await writeFileAtomic(lastGcPath(dataDir), JSON.stringify(summary) + '\n');
  return summary;
}
