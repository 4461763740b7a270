// The upstream feed's next publications for the fleet test: the sample feed at sequence 7 + n,
// plus one new patch per publication so far (T5KB09nn, a padded shell script) and one
// changed file (T5KB0201.sh gets a revision line), so every publication brings new blobs.
import { buildSampleFeed, writeFeedDirectory, type FeedPatchInput } from '@patchbay/sample-feed';
import { seededRandom } from './figures.js';

export const FLEET_PATCH_PREFIX = 'T5KB09';
const CHANGED_FILE = 'T5KB0201.sh';

export interface Publication {
  sequence: number;
  newPatchId: string;
  /** bytes of the new patch's file */
  newFileBytes: number;
}

function fleetPatchId(n: number): string {
  return `${FLEET_PATCH_PREFIX}${String(n).padStart(2, '0')}`;
}

/** A shell script padded with comment lines to a seeded size between 8 KiB and 264 KiB. */
function fleetScript(id: string, n: number, seed: number): string {
  const random = seededRandom(seed + n);
  const size = 8192 + Math.floor(random() * 256 * 1024);
  let text = `#!/bin/sh\n# ${id}: fleet test publication ${n}\nmkdir -p "$2/patches" && touch "$2/patches/${id}.installed"\n`;
  while (text.length < size) {
    text += `# ${Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0')
      .repeat(8)}\n`;
  }
  return text;
}

function fleetPatch(n: number): FeedPatchInput {
  const id = fleetPatchId(n);
  return {
    id,
    product: 'arcserve-backup',
    release: '19.0',
    title: `Fleet test patch ${n}`,
    description: 'added by test/faults/fleet.test.ts to publish new blobs while clients poll',
    severity: 'optional',
    publishedAt: new Date(Date.UTC(2026, 10, 21, 0, n)).toISOString().replace('.000Z', 'Z'),
    requires: [],
    supersedes: [],
    rebootRequired: false,
    files: [{ name: `${id}.sh` }],
    install: { command: ['sh', `{file:${id}.sh}`, 'install', '{installDir}'], timeoutSeconds: 60 },
    detect: { fileExists: `{installDir}/patches/${id}.installed` },
  };
}

/** Rewrites feedDir as publication n (n >= 1) of the fleet run; feed.json is written last. */
export async function writeFleetPublication(feedDir: string, n: number, seed: number): Promise<Publication> {
  const { feed, files } = buildSampleFeed({ sequence: 7 + n });
  const extra: Record<string, string> = {};
  const patches = [...feed.patches];
  for (let i = 1; i <= n; i++) {
    const patch = fleetPatch(i);
    patches.push(patch);
    extra[`${patch.id}.sh`] = fleetScript(patch.id, i, seed);
  }
  const changed = files[CHANGED_FILE];
  if (changed === undefined) throw new Error(`the sample feed no longer has ${CHANGED_FILE}`);
  const allFiles = {
    ...files,
    ...extra,
    [CHANGED_FILE]: `${changed.toString()}\n# fleet revision ${n}\n`,
  };
  await writeFeedDirectory({ dir: feedDir, feed: { ...feed, patches }, files: allFiles, prune: true });
  const newPatchId = fleetPatchId(n);
  return {
    sequence: feed.sequence,
    newPatchId,
    newFileBytes: Buffer.byteLength(extra[`${newPatchId}.sh`] ?? ''),
  };
}
