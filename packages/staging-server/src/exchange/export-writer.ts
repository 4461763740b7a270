// Writing an export: everything goes to a hidden temp directory beside DIR, which is
// renamed to DIR only when whole (a crash leaves no half export under DIR). Unchunked,
// DIR is a feed directory; chunked, DIR holds the parts of one tar and parts.json.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import {
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { create as createTar } from 'tar';
import {
  diskFullError,
  ErrorCodes,
  fsyncDir,
  isDiskFullError,
  PatchbayError,
  type ContentStore,
} from '@patchbay/core';
import {
  jsonBytes,
  partName,
  PARTS_FORMAT,
  PARTS_INDEX_FILE,
  type PartEntry,
  type PartsIndex,
} from './bundle-format.js';
import { blobFiles, smallFiles, type ExportPlan, type PlannedFile } from './export-plan.js';
import { copyVerified } from './verified-copy.js';

export interface ExportProgress {
  doneBytes: number;
  totalBytes: number;
}

export interface WriteExportOptions {
  plan: ExportPlan;
  /** DIR: must not exist, or be an empty directory */
  target: string;
  store: ContentStore;
  /** split into tar parts of at most this many bytes; null writes a plain feed directory */
  chunkSize: number | null;
  onProgress?: (progress: ExportProgress) => void;
}

export interface WrittenExport {
  dir: string;
  /** bytes written under DIR */
  bytes: number;
  parts: PartEntry[] | null;
}

/** DIR must be new (or an empty directory): an export never mixes with older files. */
export async function assertTargetUsable(target: string): Promise<void> {
  let info;
  try {
    info = await stat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!info.isDirectory() || (await readdir(target)).length > 0) {
    throw new PatchbayError(
      ErrorCodes.USAGE,
      `export DIR ${target} already exists${info.isDirectory() ? ' and is not empty' : ' and is not a directory'}; ` +
        'name a new directory',
      { dir: target },
    );
  }
}

/** The hidden temp directory an export of `target` is built in (same parent, so the final rename is atomic). */
export function exportTempDir(target: string): string {
  const abs = resolve(target);
  return join(dirname(abs), `.${basename(abs)}.export-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

export async function writeExport(opts: WriteExportOptions): Promise<WrittenExport> {
  const target = resolve(opts.target);
  await assertTargetUsable(target);
  const temp = exportTempDir(target);
  await mkdir(temp, { recursive: false });
  try {
    let bytes: number;
    let parts: PartEntry[] | null = null;
    if (opts.chunkSize === null) {
      bytes = await writeFeedDirectory(temp, opts);
    } else {
      parts = await writeParts(temp, opts, opts.chunkSize);
      bytes = parts.reduce((sum, part) => sum + part.size, 0);
    }
    await fsyncDir(temp);
    // An empty DIR made by the operator (a mount point's folder) is replaced by the whole export.
    await rmdir(target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rename(temp, target);
    await fsyncDir(dirname(target));
    return { dir: target, bytes, parts };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    if (isDiskFullError(err) && !(err instanceof PatchbayError)) {
      throw diskFullError(target, 'the export', err, 'nothing was left under DIR');
    }
    throw err;
  }
}

async function writeSmallFile(path: string, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Feed directory layout (and a TUF-mode server's metadata/ and targets/): the small files, then each blob copied and checked against its digest. */
async function writeFeedDirectory(dir: string, opts: WriteExportOptions): Promise<number> {
  const { plan, store } = opts;
  let done = 0;
  const dirs = new Set<string>();
  for (const file of smallFiles(plan)) {
    const dest = join(dir, ...file.path.split('/'));
    await mkdir(dirname(dest), { recursive: true });
    await writeSmallFile(dest, file.bytes);
    dirs.add(dirname(dest));
    done += file.bytes.length;
  }
  for (const file of blobFiles(plan)) {
    const dest = join(dir, ...file.path.split('/'));
    await mkdir(dirname(dest), { recursive: true });
    // A blob that rotted on disk is caught here rather than on the far side of an air gap.
    await copyVerified(store.blobPath(file.sha256), dest, file, `blob ${file.sha256} (${file.path})`);
    await fsyncDir(dirname(dest));
    done += file.size;
    opts.onProgress?.({ doneBytes: done, totalBytes: plan.bytes });
  }
  for (const written of dirs) await fsyncDir(written);
  for (const top of topLevelDirs(plan)) await fsyncDir(join(dir, top));
  return done;
}

/** The top-level directories the export's files live in (`files`, `metadata`, `targets`). */
function topLevelDirs(plan: ExportPlan): string[] {
  const tops = new Set<string>();
  for (const path of [...smallFiles(plan), ...blobFiles(plan)].map((f) => f.path)) {
    const slash = path.indexOf('/');
    if (slash !== -1) tops.add(path.slice(0, slash));
  }
  return [...tops].sort();
}

/**
 * Chunked layout: a staging tree of the metadata and symlinks to the blobs is packed by
 * `tar` (following the links) and the stream is cut into parts of at most chunkSize bytes.
 */
async function writeParts(dir: string, opts: WriteExportOptions, chunkSize: number): Promise<PartEntry[]> {
  const { plan } = opts;
  const stage = join(dir, '.stage');
  await mkdir(stage);
  for (const file of smallFiles(plan)) {
    const dest = join(stage, ...file.path.split('/'));
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, file.bytes);
  }
  for (const file of blobFiles(plan)) await linkBlob(stage, file, opts.store);
  const entries = [
    ...plan.metadata.map((m) => m.path).filter((path) => !path.includes('/')),
    ...topLevelDirs(plan),
  ];
  const pack = createTar({ cwd: stage, portable: true, follow: true }, entries);

  const splitter = new PartSplitter(dir, chunkSize);
  let done = 0;
  try {
    for await (const data of pack as AsyncIterable<Buffer>) {
      await splitter.write(data);
      done += data.length;
      opts.onProgress?.({ doneBytes: done, totalBytes: plan.bytes });
    }
    await splitter.finish();
  } finally {
    await splitter.abandon();
  }
  const written = splitter.parts;
  await rm(stage, { recursive: true, force: true });

  const parts: PartEntry[] = [];
  for (const [i, part] of written.entries()) {
    const name = partName(plan.sequence, plan.baseSequence, i + 1, written.length);
    await rename(part.temp, join(dir, name));
    parts.push({ name, size: part.size, sha256: part.sha256 });
  }
  const index: PartsIndex = {
    format: PARTS_FORMAT,
    sequence: plan.sequence,
    baseSequence: plan.baseSequence,
    chunkSize,
    parts,
  };
  await writeSmallFile(join(dir, PARTS_INDEX_FILE), jsonBytes(index));
  return parts;
}

async function linkBlob(stage: string, file: PlannedFile, store: ContentStore): Promise<void> {
  const link = join(stage, ...file.path.split('/'));
  await mkdir(dirname(link), { recursive: true });
  const blob = store.blobPath(file.sha256);
  const info = await stat(blob).catch(() => undefined);
  if (info?.size !== file.size) {
    throw new PatchbayError(
      ErrorCodes.BLOB_MISSING,
      `blob ${file.sha256} (${file.path}) is ${info ? `${info.size} bytes, expected ${file.size}` : 'missing from the store'}; nothing was exported`,
      { sha256: file.sha256 },
    );
  }
  await symlink(blob, link);
}

interface OpenPart {
  path: string;
  handle: FileHandle;
  size: number;
  hash: Hash;
}

/** Cuts a byte stream into files of at most `chunkSize` bytes, hashing each. */
class PartSplitter {
  readonly parts: { temp: string; size: number; sha256: string }[] = [];
  private current: OpenPart | null = null;

  constructor(
    private readonly dir: string,
    private readonly chunkSize: number,
  ) {}

  async write(data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      if (this.current === null || this.current.size === this.chunkSize) {
        await this.closePart();
        const path = join(this.dir, `part-${this.parts.length + 1}.tmp`);
        this.current = { path, handle: await open(path, 'wx'), size: 0, hash: createHash('sha256') };
      }
      const part = this.current;
      const piece = data.subarray(
        offset,
        offset + Math.min(data.length - offset, this.chunkSize - part.size),
      );
      await part.handle.write(piece);
      part.hash.update(piece);
      part.size += piece.length;
      offset += piece.length;
    }
  }

  async finish(): Promise<void> {
    await this.closePart();
  }

  /** After an error: close the open part (the caller removes the directory). */
  async abandon(): Promise<void> {
    await this.current?.handle.close().catch(() => undefined);
    this.current = null;
  }

  private async closePart(): Promise<void> {
    const part = this.current;
    if (!part) return;
    this.current = null;
    await part.handle.sync();
    await part.handle.close();
    this.parts.push({ temp: part.path, size: part.size, sha256: part.hash.digest('hex') });
  }
}
