// What the crash harness reads from a staging server's data directory after a kill or a
// restart: the published catalog and its signature, the blobs it names, leftover temp files.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { verifyDetached, type Catalog } from '@patchbay/core';
import type { SyncReport } from '@patchbay/staging-server';
import { STATE_FILE_NAME, SyncStateStore } from '../../packages/staging-server/dist/store/sync-state.js';

export interface OnDiskCatalog {
  bytes: Buffer;
  catalog: Catalog;
  /** the stored signature (undefined when the file is missing) */
  signature: string | undefined;
}

async function readIfPresent(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** catalog/current.json and its .sig; null when no catalog was ever published. Throws when torn. */
export async function readPublished(dataDir: string): Promise<OnDiskCatalog | null> {
  const currentPath = path.join(dataDir, 'catalog', 'current.json');
  const bytes = await readIfPresent(currentPath);
  if (bytes === undefined) return null;
  const catalog = JSON.parse(bytes.toString('utf8')) as Catalog;
  if (catalog.format !== 'patchbay-catalog/1' || !Array.isArray(catalog.patches)) {
    throw new Error(`${currentPath} is not a catalog`);
  }
  const signature = (await readIfPresent(`${currentPath}.sig`))?.toString('utf8').trim();
  return { bytes, catalog, signature };
}

/**
 * The last sync report stored in state.sqlite, as the next start reads it (undefined before
 * the first sync). This, not the killed process's log, says whether a kill cut a sync: pino
 * writes its lines asynchronously, so the last ones before a SIGKILL may never reach the pipe.
 */
export async function storedLastSync(dataDir: string): Promise<SyncReport | undefined> {
  // Opening creates the database: never do that to a data dir the server has not made one in.
  if ((await stat(path.join(dataDir, STATE_FILE_NAME)).catch(() => undefined)) === undefined)
    return undefined;
  const state = await SyncStateStore.open({ dataDir });
  try {
    return await state.lastSync();
  } finally {
    await state.close();
  }
}

/** The mirror's public key from keys/mirror.key (undefined before the first start made one). */
export async function mirrorPublicKey(dataDir: string): Promise<KeyObject | undefined> {
  const pem = await readIfPresent(path.join(dataDir, 'keys', 'mirror.key'));
  return pem === undefined ? undefined : createPublicKey(pem.toString('utf8'));
}

export function signatureVerifies(published: OnDiskCatalog, key: KeyObject | undefined): boolean {
  return (
    key !== undefined &&
    published.signature !== undefined &&
    verifyDetached(published.bytes, published.signature, key)
  );
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Blobs the catalog names that are missing or do not hash to their name: "<hex>: why". */
export async function badBlobs(dataDir: string, catalog: Catalog): Promise<string[]> {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const patch of catalog.patches) {
    for (const file of patch.files) {
      if (seen.has(file.sha256)) continue;
      seen.add(file.sha256);
      const blob = path.join(dataDir, 'store', 'blobs', 'sha256', file.sha256.slice(0, 2), file.sha256);
      const info = await stat(blob).catch(() => undefined);
      if (!info?.isFile()) {
        problems.push(`${file.sha256}: missing (patch ${patch.id})`);
        continue;
      }
      if (info.size !== file.size)
        problems.push(`${file.sha256}: ${info.size} bytes, catalog says ${file.size}`);
      else if ((await sha256File(blob)) !== file.sha256) problems.push(`${file.sha256}: wrong bytes`);
    }
  }
  return problems;
}

async function walk(dir: string, prefix = ''): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const entry of entries) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await walk(path.join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}

/** What may live in these directories once a sync finished: anything else is a leftover. */
const EXPECTED: Record<string, RegExp> = {
  catalog: /^(current\.json|current\.json\.sig|history\/\d+\.json)$/,
  upstream: /^feed\.json(\.sig)?$/,
  keys: /^mirror\.key(\.rotation\.json)?$/,
};

/**
 * Leftovers after a finished sync: any `*.tmp` anywhere in the data dir, anything in store/tmp
 * (partials included: after an `ok` sync nothing is still wanted), unexpected names in
 * catalog/, upstream/ and keys/, and the lock (the process has exited).
 */
export async function leftoverFiles(dataDir: string): Promise<string[]> {
  const files = await walk(dataDir);
  return files.filter((rel) => {
    if (rel.endsWith('.tmp')) return true;
    if (rel === 'lock' || rel.startsWith('lock/')) return true;
    if (rel.startsWith('store/tmp/')) return true;
    const [top, ...rest] = rel.split('/');
    const pattern = EXPECTED[top!];
    return pattern !== undefined && !pattern.test(rest.join('/'));
  });
}
