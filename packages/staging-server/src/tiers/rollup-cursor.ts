// <dataDir>/rollup-state.json: what the parent has acknowledged. Written (temp file,
// fsync, rename) only after the parent answered 200, so a rollup that was not
// delivered is sent again, and one delivered but not recorded (a crash in between) is
// sent again too — the parent dedups events by (hostId, seq), so nothing doubles.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@patchbay/core';

export const ROLLUP_STATE_FILE = 'rollup-state.json';

export interface RollupCursor {
  /** which parent and branch id the cursor belongs to: another target starts from scratch */
  target: string;
  /** every event with an id up to this one has been delivered */
  eventId: number;
  /** hostId -> the lastSeenAt of the snapshot delivered */
  hosts: Record<string, string>;
}

export function emptyCursor(target: string): RollupCursor {
  return { target, eventId: 0, hosts: {} };
}

export class RollupCursorFile {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, ROLLUP_STATE_FILE);
  }

  /** The cursor for `target`; an empty one when none is stored, it is unreadable, or it is another target's. */
  async read(target: string): Promise<RollupCursor> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyCursor(target);
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as Partial<RollupCursor>;
      if (
        parsed.target === target &&
        typeof parsed.eventId === 'number' &&
        typeof parsed.hosts === 'object' &&
        parsed.hosts !== null
      ) {
        return { target, eventId: parsed.eventId, hosts: parsed.hosts };
      }
    } catch {
      // A damaged cursor only means a full resend, which the parent dedups.
    }
    return emptyCursor(target);
  }

  async write(cursor: RollupCursor): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(cursor)}\n`);
  }
}
