// Garbage collection of the content-addressed store: which blobs, history catalogs and
// temp files can go, and removing them in an order a crash cannot make unsafe.
//
// A blob is kept while a catalog that names it may still be in a client's hands: the
// current catalog, and every history catalog that was *served* within the protection
// window (it stopped being served when its successor was published, so that time, not
// its own publishedAt, is what counts: a catalog published 30 days ago and replaced an
// hour ago was handed out an hour ago).
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ContentStore,
  failpoint,
  fsyncDir,
  PARTIAL_STATE_SUFFIX,
  PARTIAL_SUFFIX,
  type Catalog,
  type Logger,
  type StoredBlob,
} from '@patchbay/core';
import type { GcResult } from '../mirror.js';
import { CatalogStore } from '../store/catalog-store.js';
import { FeedArchive } from '../upstream/feed-archive.js';
import { servedTufDigests } from '../tuf/served-repository.js';

const DAY_MS = 86_400_000;
/** temp and partial files untouched this long belong to no running download */
export const STALE_TEMP_MS = DAY_MS;

export interface GcInput {
  dataDir: string;
  /** the catalog being served (its blobs are never candidates); null: no blob is removed */
  current: Catalog | null;
  protectionDays: number;
  dryRun: boolean;
  logger: Logger;
  now?: Date;
  /**
   * Spare blobs written at or after this time (epoch ms). Used for figures computed while
   * a sync runs: its fresh blobs are not named by any catalog yet but are not garbage.
   */
  spareNewerThan?: number;
}

interface HistoryEntry {
  sequence: number;
  path: string;
  /** null when the file could not be read as a catalog */
  publishedAt: number | null;
  blobs: string[];
  mtimeMs: number;
}

export interface GcPlan {
  all: StoredBlob[];
  candidates: StoredBlob[];
  protectedCatalogs: number[];
  expiredHistory: HistoryEntry[];
  staleTemp: string[];
  blobsSkipped: string | null;
}

/** Work out what a gc would remove; touches nothing. */
export async function planGc(input: GcInput): Promise<GcPlan> {
  const now = (input.now ?? new Date()).getTime();
  const cutoff = now - input.protectionDays * DAY_MS;
  const store = new ContentStore(join(input.dataDir, 'store'));
  const catalogs = new CatalogStore(input.dataDir);
  const history = await readHistory(catalogs.historyDir);
  const all = await store.list();
  const current = input.current;

  const keep = new Set<string>();
  const protectedCatalogs: number[] = [];
  const expiredHistory: HistoryEntry[] = [];
  let blobsSkipped: string | null = null;
  if (current === null) {
    blobsSkipped = 'no published catalog: nothing tells which blobs are needed';
  } else {
    for (const hex of namedBlobs(current)) keep.add(hex);
    protectedCatalogs.push(current.sequence);
    const sorted = [...history].sort((a, b) => a.sequence - b.sequence);
    for (const [i, entry] of sorted.entries()) {
      if (entry.sequence === current.sequence) continue;
      if (entry.publishedAt === null) {
        // Unreadable: its blobs are unknown, so while it may be recent nothing is removed.
        if (entry.mtimeMs >= cutoff) {
          blobsSkipped = `history catalog ${entry.path} is unreadable and may be within the protection window`;
        } else expiredHistory.push(entry);
        continue;
      }
      if (servedUntil(entry, sorted[i + 1], current) >= cutoff) {
        protectedCatalogs.push(entry.sequence);
        for (const hex of entry.blobs) keep.add(hex);
      } else expiredHistory.push(entry);
    }
  }

  if (blobsSkipped === null) {
    // trust v2: every target the served TUF repository names is kept as well (descriptors, and
    // files of patches the catalog holds back only because a requirement is)
    const served = await servedTufDigests(input.dataDir);
    if (served === null)
      blobsSkipped = 'the served TUF repository is unreadable: which blobs it names is unknown';
    else for (const hex of served) keep.add(hex);
  }

  const candidates =
    blobsSkipped !== null
      ? []
      : all.filter(
          (blob) =>
            !keep.has(blob.hex) &&
            !(input.spareNewerThan !== undefined && blob.mtimeMs >= input.spareNewerThan),
        );
  return {
    all,
    candidates,
    protectedCatalogs: protectedCatalogs.sort((a, b) => a - b),
    expiredHistory: blobsSkipped !== null ? [] : expiredHistory,
    staleTemp: await staleTempFiles(store, input.dataDir, now),
    blobsSkipped,
  };
}

/**
 * The last moment a history catalog was served: when the next publication replaced it.
 * A catalog newer than the current one was never served (a crash before the switch):
 * its own publishedAt counts.
 */
function servedUntil(entry: HistoryEntry, next: HistoryEntry | undefined, current: Catalog): number {
  const own = entry.publishedAt ?? 0;
  if (entry.sequence > current.sequence) return own;
  if (next === undefined || next.sequence >= current.sequence) return Date.parse(current.publishedAt) || own;
  // an unreadable successor: assume it replaced this one just now (keeps more, never less)
  return next.publishedAt ?? Number.POSITIVE_INFINITY;
}

/**
 * Plan, then (unless dryRun) remove: expired history catalogs first, then the blobs,
 * then stale temp files. Each removal is one unlink, so a crash leaves a subset done;
 * the current catalog's blobs are never candidates, and no history catalog left behind
 * names a removed blob.
 */
export async function collectGarbage(input: GcInput): Promise<GcResult> {
  const log = input.logger;
  const at = (input.now ?? new Date()).toISOString();
  const plan = await planGc(input);
  const reclaimedBytes = sum(plan.candidates);
  const candidateSet = new Set(plan.candidates.map((b) => b.hex));
  const kept = plan.all.filter((b) => !candidateSet.has(b.hex));
  const result: GcResult = {
    at,
    dryRun: input.dryRun,
    protectionDays: input.protectionDays,
    removedBlobs: plan.candidates.length,
    reclaimedBytes,
    keptBlobs: kept.length,
    keptBytes: sum(kept),
    protectedCatalogs: plan.protectedCatalogs,
    removedHistory: plan.expiredHistory.map((h) => h.sequence).sort((a, b) => a - b),
    removedTemp: plan.staleTemp,
    blobsSkipped: plan.blobsSkipped,
  };
  if (input.dryRun) return result;
  if (plan.blobsSkipped !== null) log.warn({ reason: plan.blobsSkipped }, 'gc removes no blobs this time');

  const store = new ContentStore(join(input.dataDir, 'store'));
  const historyDir = new CatalogStore(input.dataDir).historyDir;
  for (const entry of plan.expiredHistory) await rm(entry.path, { force: true });
  if (plan.expiredHistory.length > 0) await fsyncDir(historyDir);
  failpoint('gc:after-history');

  const shards = new Set<string>();
  let removed = 0;
  for (const blob of plan.candidates) {
    await rm(blob.path, { force: true });
    shards.add(blob.hex.slice(0, 2));
    if (++removed === 1) failpoint('gc:mid-blobs');
  }
  for (const shard of shards) await fsyncDir(join(store.blobsDir, shard)).catch(() => undefined);

  for (const name of plan.staleTemp) await rm(join(store.tmpDir, name), { force: true, recursive: true });
  log.info(
    {
      removedBlobs: result.removedBlobs,
      reclaimedBytes,
      keptBlobs: result.keptBlobs,
      protectedCatalogs: result.protectedCatalogs,
      removedHistory: result.removedHistory,
      removedTemp: result.removedTemp.length,
      protectionDays: input.protectionDays,
    },
    'garbage collection finished',
  );
  return result;
}

function sum(blobs: readonly StoredBlob[]): number {
  return blobs.reduce((total, blob) => total + blob.size, 0);
}

/** Every catalog/history/<sequence>.json with the blobs it names (read leniently: only what gc needs). */
async function readHistory(dir: string): Promise<HistoryEntry[]> {
  const entries: HistoryEntry[] = [];
  for (const name of await readdirOrEmpty(dir)) {
    const match = /^(\d+)\.json$/.exec(name);
    if (!match) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    const entry: HistoryEntry = {
      sequence: Number(match[1]),
      path,
      publishedAt: null,
      blobs: [],
      mtimeMs: info.mtimeMs,
    };
    try {
      const doc = JSON.parse(await readFile(path, 'utf8')) as Partial<Catalog>;
      const publishedAt = typeof doc.publishedAt === 'string' ? Date.parse(doc.publishedAt) : Number.NaN;
      if (!Number.isNaN(publishedAt) && Array.isArray(doc.patches)) {
        entry.publishedAt = publishedAt;
        entry.blobs = namedBlobs(doc as Catalog);
      }
    } catch {
      // stays unreadable (publishedAt null)
    }
    entries.push(entry);
  }
  return entries;
}

function namedBlobs(catalog: Pick<Catalog, 'patches'>): string[] {
  const out: string[] = [];
  for (const patch of catalog.patches ?? []) {
    for (const file of Array.isArray(patch?.files) ? patch.files : []) {
      if (typeof file?.sha256 === 'string') out.push(file.sha256);
    }
  }
  return out;
}

/**
 * Files in store/tmp untouched for a day. A resumable partial (<hex>.part + .part.json)
 * of a blob the last accepted feed still names, and the store lacks, is kept: the next
 * sync wants to resume it.
 */
async function staleTempFiles(store: ContentStore, dataDir: string, now: number): Promise<string[]> {
  const names = await readdirOrEmpty(store.tmpDir);
  if (names.length === 0) return [];
  const wanted = await wantedPartials(dataDir);
  const stale: string[] = [];
  for (const name of names) {
    const info = await stat(join(store.tmpDir, name)).catch(() => undefined);
    if (!info || now - info.mtimeMs < STALE_TEMP_MS) continue;
    const hex = partialHex(name);
    if (hex !== null && wanted.has(hex) && !(await store.has(hex))) continue;
    stale.push(name);
  }
  return stale.sort();
}

function partialHex(name: string): string | null {
  for (const suffix of [PARTIAL_STATE_SUFFIX, PARTIAL_SUFFIX]) {
    if (name.endsWith(suffix)) {
      const hex = name.slice(0, -suffix.length);
      return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
    }
  }
  return null;
}

async function wantedPartials(dataDir: string): Promise<Set<string>> {
  try {
    const bytes = await new FeedArchive(dataDir).read();
    if (bytes === undefined) return new Set();
    return new Set(namedBlobs(JSON.parse(bytes.toString('utf8')) as Catalog));
  } catch {
    return new Set();
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}
