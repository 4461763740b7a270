import { randomBytes } from 'node:crypto';
import { chmod, copyFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir, fsyncFile } from './atomic-file.js';
import { failpoint } from './failpoint.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './private-files.js';
import { sha256File } from './hash.js';
import { assertSha256Hex } from './names.js';

/** Suffix of a resumable partial download in `<root>/tmp`: `<hex>.part`. */
/** A blob file in the store. */
export interface StoredBlob {
  hex: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export const PARTIAL_SUFFIX = '.part';
/** Suffix of a partial's resume validator sidecar (JSON {url, etag, lastModified, size, sha256}): `<hex>.part.json`. */
export const PARTIAL_STATE_SUFFIX = '.part.json';

const PARTIAL_NAME = /^([0-9a-f]{64})\.part$/;
const PARTIAL_STATE_NAME = /^([0-9a-f]{64})\.part\.json$/;

/**
 * Content-addressed blob store: `<root>/blobs/sha256/<2 hex>/<hex>`, temp files in
 * `<root>/tmp` (same filesystem, so commit is a rename). Bytes that fail their
 * check never get a name under blobs/.
 *
 * `<root>/tmp` holds two kinds of files:
 * - resumable partial downloads: `<hex>.part` plus its validator sidecar `<hex>.part.json`
 *   (see resume-state.ts); cleanTemp keeps a pair, and removes either half alone;
 * - anything else (e.g. `newTempPath()` names, `<random>.tmp`): scratch left by a crash, removed by cleanTemp.
 */
export class ContentStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  /** Path a verified blob lives at (whether or not it exists). Throws PB_ERR_BAD_DIGEST. */
  blobPath(hex: string): string {
    assertSha256Hex(hex);
    return join(this.blobsDir, hex.slice(0, 2), hex);
  }

  /** True when the blob exists (not re-hashed). */
  async has(hex: string): Promise<boolean> {
    try {
      return (await stat(this.blobPath(hex))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Re-hash a stored blob; true when it matches its name (false when it is absent). */
  async verify(hex: string): Promise<boolean> {
    try {
      return (await sha256File(this.blobPath(hex))) === hex;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Path for the partial download of `hex` (resume state lives beside it). */
  partialPath(hex: string): string {
    assertSha256Hex(hex);
    return join(this.tmpDir, `${hex}${PARTIAL_SUFFIX}`);
  }

  /** Path of the resume validator sidecar of `partialPath(hex)`. */
  partialStatePath(hex: string): string {
    assertSha256Hex(hex);
    return join(this.tmpDir, `${hex}${PARTIAL_STATE_SUFFIX}`);
  }

  /**
   * Bytes fetching these blobs adds to the store's filesystem: each distinct digest's size
   * less the partial already in tmp/ (resumed, or discarded and fetched again: the net
   * growth is the same). For the free-space check before a download.
   */
  async bytesToWrite(blobs: readonly { sha256: string; size: number }[]): Promise<number> {
    const sizes = new Map<string, number>();
    for (const blob of blobs) if (!sizes.has(blob.sha256)) sizes.set(blob.sha256, blob.size);
    const growth = await Promise.all(
      [...sizes].map(async ([hex, size]) => {
        const partial = await stat(this.partialPath(hex)).then(
          (info) => (info.isFile() ? info.size : 0),
          () => 0,
        );
        return Math.max(0, size - partial);
      }),
    );
    return growth.reduce((sum, bytes) => sum + bytes, 0);
  }

  /** A fresh scratch file name in `<root>/tmp` (not resumable: cleanTemp removes it after a crash). */
  newTempPath(): string {
    return join(this.tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
  }

  /**
   * Move a fully verified temp file into place: fsync, rename, fsync dir. Returns the blob path.
   * The temp file should live in `tmpDir` (same filesystem); from elsewhere it is copied first.
   */
  async commit(tempPath: string, hex: string): Promise<string> {
    const target = this.blobPath(hex);
    const shardDir = dirname(target);
    const createdShard = await ensurePrivateDir(shardDir);
    // Whoever made the temp (a download, a copy, a tar entry's own mode), a blob is 0600.
    await chmod(tempPath, PRIVATE_FILE_MODE);
    await fsyncFile(tempPath);
    failpoint('store:before-rename');
    try {
      await rename(tempPath, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await this.commitAcrossDevices(tempPath, target);
    }
    await fsyncDir(shardDir);
    // A new shard directory's own entry must be durable too.
    if (createdShard !== undefined) await fsyncDir(this.blobsDir);
    return target;
  }

  private async commitAcrossDevices(source: string, target: string): Promise<void> {
    await ensurePrivateDir(this.tmpDir);
    const local = this.newTempPath();
    try {
      await copyFile(source, local);
      await chmod(local, PRIVATE_FILE_MODE);
      await fsyncFile(local);
      await rename(local, target);
    } catch (err) {
      await rm(local, { force: true });
      throw err;
    }
    await rm(source, { force: true });
  }

  /** Remove a blob (used by the client cache prune; the server keeps blobs). */
  async remove(hex: string): Promise<void> {
    await rm(this.blobPath(hex), { force: true });
  }

  /** Every stored blob: the files named by a valid digest in their shard (stray names passed over). */
  async list(): Promise<StoredBlob[]> {
    const blobs: StoredBlob[] = [];
    for (const shard of await readdirOrEmpty(this.blobsDir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const shardDir = join(this.blobsDir, shard);
      for (const name of await readdirOrEmpty(shardDir)) {
        if (!/^[0-9a-f]{64}$/.test(name) || !name.startsWith(shard)) continue;
        const path = join(shardDir, name);
        const info = await stat(path).catch(() => undefined);
        if (!info?.isFile()) continue;
        blobs.push({ hex: name, path, size: info.size, mtimeMs: info.mtimeMs });
      }
    }
    return blobs;
  }

  /** Count and total bytes of stored blobs. */
  async stats(): Promise<{ blobs: number; bytes: number }> {
    const blobs = await this.list();
    return { blobs: blobs.length, bytes: blobs.reduce((bytes, blob) => bytes + blob.size, 0) };
  }

  /**
   * Delete temp files left by a crash (not partials that can be resumed: a `<hex>.part`
   * with its `<hex>.part.json` sidecar is kept; either one alone is useless and removed).
   * `olderThanMs` spares files modified more recently (a download still in flight elsewhere).
   */
  async cleanTemp(opts: { olderThanMs?: number } = {}): Promise<{ removed: string[]; kept: string[] }> {
    const names = await readdirOrEmpty(this.tmpDir);
    const present = new Set(names);
    const removed: string[] = [];
    const kept: string[] = [];
    const cutoff = Date.now() - (opts.olderThanMs ?? 0);
    for (const name of names) {
      if (isResumablePair(name, present)) {
        kept.push(name);
        continue;
      }
      const path = join(this.tmpDir, name);
      if (opts.olderThanMs !== undefined) {
        const info = await stat(path).catch(() => undefined);
        if (info && info.mtimeMs > cutoff) {
          kept.push(name);
          continue;
        }
      }
      await rm(path, { force: true, recursive: true });
      removed.push(name);
    }
    return { removed, kept };
  }
}

function isResumablePair(name: string, present: ReadonlySet<string>): boolean {
  const partial = PARTIAL_NAME.exec(name);
  if (partial) return present.has(`${partial[1]}${PARTIAL_STATE_SUFFIX}`);
  const state = PARTIAL_STATE_NAME.exec(name);
  if (state) return present.has(`${state[1]}${PARTIAL_SUFFIX}`);
  return false;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
