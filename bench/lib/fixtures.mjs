// Fixture feeds written straight to disk: big files are streamed from one random block (each
// MiB stamped with its file and index, so no two files or chunks are equal) and hashed as they
// are written. The sample feed's writeFeedDirectory takes file contents in memory, which a
// 2 GiB blob cannot be.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

const CHUNK = 1 << 20;
const BLOCK = randomBytes(CHUNK);

/** Write `size` bytes of incompressible data to `file`; returns its SHA-256. */
export async function writeBlobFile(file, size, seed) {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  const chunk = Buffer.from(BLOCK);
  try {
    for (let offset = 0, i = 0; offset < size; offset += CHUNK, i++) {
      chunk.writeUInt32LE(seed >>> 0, 0);
      chunk.writeUInt32LE(i, 4);
      const part = size - offset < CHUNK ? chunk.subarray(0, size - offset) : chunk;
      hash.update(part);
      await handle.write(part);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

const PUBLISHED = '2026-01-05T00:00:00Z';
const SCRIPT = '#!/bin/sh\n# benchmark payload: records the install and exits\nexit 0\n';

function patchEntry(id, product, release, fileEntries, extra = {}) {
  return {
    id,
    product,
    release,
    title: `${id}: benchmark patch for ${product} ${release}`,
    description:
      'A generated patch of the benchmark catalog. The text is about as long as a real vendor note, ' +
      'so the catalog has the size a large feed really has.',
    severity: ['critical', 'recommended', 'optional'][Number(id.slice(-1)) % 3],
    publishedAt: PUBLISHED,
    requires: [],
    supersedes: [],
    rebootRequired: false,
    files: fileEntries,
    install: {
      command: ['sh', `{file:${fileEntries[0].name}}`, 'install', '{installDir}', '{patchId}'],
      timeoutSeconds: 600,
      successExitCodes: [0],
    },
    detect: { fileExists: `{installDir}/patches/${id}.installed` },
    ...extra,
  };
}

function feedDocument(products, patches) {
  return {
    format: 'patchbay-feed/1',
    vendor: 'Benchmark',
    sequence: 1,
    generatedAt: PUBLISHED,
    products,
    patches,
  };
}

/**
 * The sync fixture: `count` patches of one file each, `totalBytes` in all.
 * Returns the feed directory and the file names (for the curl and openssl baselines).
 */
export async function writeSyncFeed(dir, { count, totalBytes }) {
  const filesDir = path.join(dir, 'files');
  mkdirSync(filesDir, { recursive: true });
  const size = Math.floor(totalBytes / count);
  const patches = [];
  const names = [];
  for (let i = 0; i < count; i++) {
    const id = `SY${String(i).padStart(5, '0')}`;
    const name = `${id}.bin`;
    const sha256 = await writeBlobFile(path.join(filesDir, name), size, 0x5000 + i);
    names.push(name);
    patches.push(patchEntry(id, 'bench-sync', '1.0', [{ name, url: `files/${name}`, size, sha256 }]));
  }
  const products = [{ id: 'bench-sync', name: 'Benchmark sync', releases: ['1.0'] }];
  writeFileSync(path.join(dir, 'feed.json'), JSON.stringify(feedDocument(products, patches), null, 2));
  return { dir, names, bytes: size * count, size };
}

export const SUITE_RELEASES = ['1.0', '2.0', '3.0', '4.0'];

/**
 * The serving fixture, one feed with `patches` patches in all:
 * - product bench-blobs: `blobCount` patches of one `blobBytes` file each (blob serving);
 * - product bench-suite, releases 1.0 to 4.0: the rest, sharing one small script. Per release,
 *   blocks of ten: the first eight a requirement chain, the ninth alone, the tenth superseding it.
 */
export async function writeServeFeed(dir, { patches: total, blobCount, blobBytes }) {
  const filesDir = path.join(dir, 'files');
  mkdirSync(filesDir, { recursive: true });
  const entries = [];
  const blobs = [];
  for (let i = 0; i < blobCount; i++) {
    const id = `BB${String(i).padStart(5, '0')}`;
    const name = `${id}.bin`;
    const sha256 = await writeBlobFile(path.join(filesDir, name), blobBytes, 0x1000 + i);
    blobs.push({ id, name, sha256, size: blobBytes });
    entries.push(
      patchEntry(id, 'bench-blobs', '1.0', [{ name, url: `files/${name}`, size: blobBytes, sha256 }]),
    );
  }
  writeFileSync(path.join(filesDir, 'payload.sh'), SCRIPT);
  const script = {
    name: 'payload.sh',
    url: 'files/payload.sh',
    size: Buffer.byteLength(SCRIPT),
    sha256: createHash('sha256').update(SCRIPT).digest('hex'),
  };
  const suiteCount = Math.max(0, total - entries.length);
  const suiteId = (i) => `PS${String(i).padStart(5, '0')}`;
  for (let i = 0; i < suiteCount; i++) {
    const release = SUITE_RELEASES[i % SUITE_RELEASES.length];
    const position = Math.floor(i / SUITE_RELEASES.length) % 10;
    const previous = suiteId(i - SUITE_RELEASES.length);
    const extra =
      position >= 1 && position <= 7
        ? { requires: [previous] }
        : position === 9
          ? { supersedes: [previous] }
          : {};
    entries.push(patchEntry(suiteId(i), 'bench-suite', release, [script], extra));
  }
  const products = [
    { id: 'bench-blobs', name: 'Benchmark blobs', releases: ['1.0'] },
    { id: 'bench-suite', name: 'Benchmark suite', releases: SUITE_RELEASES },
  ];
  writeFileSync(path.join(dir, 'feed.json'), JSON.stringify(feedDocument(products, entries), null, 2));
  return { dir, blobs, patches: entries.length };
}

/**
 * The memory fixture: product bench-big with BG00001 (a `serverBytes` file, the server memory
 * case) and BG00002 (a `clientBytes` file, the client memory case). A catalog of its own, so
 * the memory figures are the transfers' and not a 20,000-patch catalog's.
 */
export async function writeMemoryFeed(dir, { serverBytes, clientBytes }) {
  const filesDir = path.join(dir, 'files');
  mkdirSync(filesDir, { recursive: true });
  const entries = [];
  const big = {};
  for (const [key, id, size, seed] of [
    ['server', 'BG00001', serverBytes, 0x2001],
    ['client', 'BG00002', clientBytes, 0x2002],
  ]) {
    const name = `${id}.bin`;
    const sha256 = await writeBlobFile(path.join(filesDir, name), size, seed);
    big[key] = { id, name, sha256, size };
    entries.push(patchEntry(id, 'bench-big', '1.0', [{ name, url: `files/${name}`, size, sha256 }]));
  }
  const products = [{ id: 'bench-big', name: 'Benchmark big files', releases: ['1.0'] }];
  writeFileSync(path.join(dir, 'feed.json'), JSON.stringify(feedDocument(products, entries), null, 2));
  return { dir, big };
}
