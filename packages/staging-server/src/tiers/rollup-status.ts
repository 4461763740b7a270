// <dataDir>/rollup-status.json: the branch's last rollup as GET /v1/rollup shows it.
// A file rather than memory, so the route (built before the sender starts) and a later
// process read the same facts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@patchbay/core';
import type { RollupStatus } from './rollup-sender.js';

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
