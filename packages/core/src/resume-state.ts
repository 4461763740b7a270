// The resume layer's memory: a partial download `<hex>.part` and its validator sidecar
// `<hex>.part.json` in the store's tmp dir. Survives a process restart; trusted only
// when it describes the same job (url, size, digest) and has a validator for If-Range.
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { readJsonFile, writeFileAtomic } from './atomic-file.js';
import type { ContentStore } from './content-store.js';
import { HASH_READ_BYTES } from './hash.js';

export interface ResumeState {
  url: string;
  etag?: string;
  lastModified?: string;
  size: number;
  sha256: string;
}

export interface ResumeJob {
  url: string;
  size: number;
  sha256: string;
}

/** Where a download (re)starts: bytes already on disk, their running hash, the If-Range value. */
export interface ResumePoint {
  offset: number;
  hash: Hash;
  ifRange?: string;
}

/**
 * The If-Range value for a partial: a strong ETag, else Last-Modified. A weak ETag is never
 * sent (RFC 9110 forbids it, and servers that accept it may splice different bytes), except
 * for file: sources, where our own size+mtime tag is compared exactly by file-url.ts.
 */
export function ifRangeValidator(
  state: Pick<ResumeState, 'url' | 'etag' | 'lastModified'>,
): string | undefined {
  if (state.etag !== undefined && (!state.etag.startsWith('W/') || state.url.startsWith('file:')))
    return state.etag;
  return state.lastModified;
}

/** Existing partial bytes to continue from, hashed; otherwise a clean start (stale files removed). */
export async function loadResumePoint(store: ContentStore, job: ResumeJob): Promise<ResumePoint> {
  const partial = store.partialPath(job.sha256);
  const state = await readResumeState(store.partialStatePath(job.sha256));
  const partialSize = await stat(partial).then(
    (info) => (info.isFile() ? info.size : -1),
    () => -1,
  );
  const ifRange = state ? ifRangeValidator(state) : undefined;
  const usable =
    state !== undefined &&
    state.url === job.url &&
    state.size === job.size &&
    state.sha256 === job.sha256 &&
    ifRange !== undefined &&
    partialSize > 0 &&
    partialSize <= job.size;
  if (!usable) {
    await discardPartial(store, job.sha256);
    return { offset: 0, hash: createHash('sha256') };
  }
  const hash = createHash('sha256');
  let offset = 0;
  for await (const chunk of createReadStream(partial, { highWaterMark: HASH_READ_BYTES })) {
    hash.update(chunk as Buffer);
    offset += (chunk as Buffer).length;
  }
  return { offset, hash, ifRange };
}

/**
 * Record the validators of a fresh (offset 0) response before its bytes land, so a failure
 * midway leaves a resumable partial. Without a usable validator the partial is not resumable.
 */
export async function saveResumeState(store: ContentStore, state: ResumeState): Promise<void> {
  const path = store.partialStatePath(state.sha256);
  if (ifRangeValidator(state) === undefined) {
    await rm(path, { force: true });
    return;
  }
  await writeFileAtomic(path, JSON.stringify(state) + '\n');
}

/** Remove a partial and its sidecar. */
export async function discardPartial(store: ContentStore, hex: string): Promise<void> {
  await rm(store.partialPath(hex), { force: true });
  await rm(store.partialStatePath(hex), { force: true });
}

async function readResumeState(path: string): Promise<ResumeState | undefined> {
  try {
    const value = await readJsonFile<Partial<ResumeState>>(path);
    if (
      value === undefined ||
      typeof value !== 'object' ||
      value === null ||
      typeof value.url !== 'string' ||
      typeof value.size !== 'number' ||
      typeof value.sha256 !== 'string'
    )
      return undefined;
    return {
      url: value.url,
      size: value.size,
      sha256: value.sha256,
      etag: typeof value.etag === 'string' ? value.etag : undefined,
      lastModified: typeof value.lastModified === 'string' ? value.lastModified : undefined,
    };
  } catch {
    // A torn or foreign sidecar only costs a restart from byte 0.
    return undefined;
  }
}
