// The upstream feed the crash harness mirrors: a handful of patches with one file of seeded
// random bytes each (a few MB in all), and moves that advance it the way a vendor would:
// a new sequence with changed, added and withdrawn patches.
import { writeFeedDirectory, type FeedPatchInput } from '@patchbay/sample-feed';

const PRODUCT = { id: 'acme-backup', name: 'Acme Backup', releases: ['1.0'] };

export interface FeedModel {
  dir: string;
  sequence: number;
  /** patch id -> its one file (the name changes with the bytes, so a new file gets a new URL) */
  patches: Map<string, { name: string; bytes: Buffer }>;
  /** the next new patch number */
  nextId: number;
}

/** `n` bytes from the seeded source (deterministic per seed, so a failing trial replays). */
export function seededBytes(random: () => number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4) {
    const word = Math.floor(random() * 0x100000000);
    for (let j = 0; j < 4 && i + j < n; j++) buf[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return buf;
}

function randomSize(random: () => number, minBytes: number, maxBytes: number): number {
  return minBytes + Math.floor(random() * (maxBytes - minBytes));
}

export interface FeedShape {
  /** file size range of new or changed patches */
  minBytes: number;
  maxBytes: number;
}

export function newFeedModel(dir: string, random: () => number, count: number, shape: FeedShape): FeedModel {
  const model: FeedModel = { dir, sequence: 1, patches: new Map(), nextId: 1 };
  for (let i = 0; i < count; i++) addPatch(model, random, shape);
  return model;
}

function addPatch(model: FeedModel, random: () => number, shape: FeedShape): void {
  const id = `ACME${String(model.nextId++).padStart(4, '0')}`;
  setFile(model, id, random, shape);
}

function setFile(model: FeedModel, id: string, random: () => number, shape: FeedShape): void {
  const bytes = seededBytes(random, randomSize(random, shape.minBytes, shape.maxBytes));
  model.patches.set(id, { name: `${id}-${model.sequence}.bin`, bytes });
}

/**
 * The next publication: a new sequence; 1–2 patches get new bytes; sometimes a new patch
 * appears, sometimes one is withdrawn (at least 3 stay). Returns a one-line summary.
 */
export function advanceFeed(model: FeedModel, random: () => number, shape: FeedShape): string {
  model.sequence += 1;
  const ids = [...model.patches.keys()];
  const changes = 1 + Math.floor(random() * 2);
  const changed: string[] = [];
  for (let i = 0; i < changes; i++) {
    const id = ids[Math.floor(random() * ids.length)]!;
    setFile(model, id, random, shape);
    changed.push(id);
  }
  let summary = `sequence ${model.sequence}: changed ${changed.join(',')}`;
  if (random() < 0.4) {
    addPatch(model, random, shape);
    summary += ', added one';
  }
  if (model.patches.size > 3 && random() < 0.3) {
    const gone = ids[Math.floor(random() * ids.length)]!;
    model.patches.delete(gone);
    summary += `, withdrew ${gone}`;
  }
  return summary;
}

/** Write feed.json and files/ (files first, feed.json last, unused files pruned). */
export async function writeFeed(model: FeedModel): Promise<void> {
  const files: Record<string, Buffer> = {};
  const patches: FeedPatchInput[] = [];
  for (const [id, { name, bytes }] of model.patches) {
    files[name] = bytes;
    patches.push({
      id,
      product: PRODUCT.id,
      release: '1.0',
      title: `Acme fix ${id}`,
      severity: 'recommended',
      publishedAt: '2026-11-20T08:00:00Z',
      files: [{ name }],
      install: { command: ['sh', '-c', 'exit 0', `{file:${name}}`] },
    });
  }
  await writeFeedDirectory({
    dir: model.dir,
    feed: {
      format: 'patchbay-feed/1',
      vendor: 'Acme',
      sequence: model.sequence,
      generatedAt: new Date(Date.UTC(2026, 10, 20) + model.sequence * 60_000).toISOString(),
      products: [PRODUCT],
      patches,
    },
    files,
    prune: true,
  });
}

/** Total bytes of the feed's files. */
export function feedBytes(model: FeedModel): number {
  let total = 0;
  for (const { bytes } of model.patches.values()) total += bytes.length;
  return total;
}
