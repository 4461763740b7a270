// What a command hands back to the CLI: success or not, one JSON document (--json), and the
// lines a person reads. Commands never print; the CLI does.
import type { WrittenRole } from './edit.js';

export interface Outcome {
  ok: boolean;
  json: Record<string, unknown>;
  lines: string[];
}

/** "wrote 3.targets.json (2/2 signatures)", with what is still missing when below threshold. */
export function describeWritten(written: WrittenRole): string {
  const count = `${written.signatures}/${written.threshold} signature${written.threshold === 1 ? '' : 's'}`;
  const missing =
    written.signatures < written.threshold
      ? ` — below threshold: collect ${written.threshold - written.signatures} more with patchbay-publish sign --role ${written.role}`
      : '';
  return `wrote metadata/${written.file} (${count})${missing}`;
}

/** Roles written below their threshold: the repository does not verify until they are signed. */
export function unsignedRoles(written: readonly WrittenRole[]): WrittenRole[] {
  return written.filter((w) => w.signatures < w.threshold);
}
