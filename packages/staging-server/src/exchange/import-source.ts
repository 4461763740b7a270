// What `import PATH` was given, turned into one feed directory to read: a directory with
// feed.json is used where it lies; a .tar, or the parts of a chunked export (a directory
// holding them, or the part files themselves), is unpacked into the store's temp area.
import { createHash } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { lstat, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { extract } from 'tar';
import { ensurePrivateDir, errorMessage, ErrorCodes, isPatchbayError, PatchbayError } from '@patchbay/core';
import {
  compressionOf,
  COMPRESSION_SNIFF_BYTES,
  FEED_FILE,
  parsePartName,
  parsePartsIndex,
  PARTS_INDEX_FILE,
  type PartEntry,
} from './bundle-format.js';

export type SourceKind = 'directory' | 'tar' | 'parts';

export interface ImportSource {
  kind: SourceKind;
  /** the feed directory: feed.json at its top */
  root: string;
  /** true when `root` was unpacked into the store's temp area (its files may be renamed into the store) */
  unpacked: boolean;
  /** bytes read from the given paths to unpack them (0 for a directory used in place) */
  archiveBytes: number;
  /** the part files read, in order (chunked exports) */
  parts: string[];
  /** remove what was unpacked (no-op for a directory used in place) */
  cleanup(): Promise<void>;
}

export interface OpenSourceOptions {
  /** where to unpack (a directory on the store's filesystem) */
  stagingParent: string;
  /** called with the bytes about to be unpacked, before anything is written (free-space check) */
  beforeUnpack?: (bytes: number) => Promise<void>;
}

function usage(message: string, context: Record<string, unknown>): PatchbayError {
  return new PatchbayError(ErrorCodes.USAGE, message, context);
}

function refused(message: string, context: Record<string, unknown>, cause?: unknown): PatchbayError {
  return new PatchbayError(ErrorCodes.IMPORT_REFUSED, message, context, cause ? { cause } : undefined);
}

async function statOrUsage(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw usage(`import PATH ${path} does not exist`, { path });
    }
    throw err;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

export async function openImportSource(
  paths: readonly string[],
  opts: OpenSourceOptions,
): Promise<ImportSource> {
  if (paths.length === 0) throw usage('import needs a PATH', {});
  const absolute = paths.map((p) => resolve(p));
  const infos = await Promise.all(absolute.map(statOrUsage));
  if (absolute.length === 1) {
    const [path] = absolute as [string];
    if (infos[0]!.isDirectory()) {
      if (await isBundleRoot(path)) return await inPlace(path);
      const names = await readdir(path);
      if (names.some((n) => parsePartName(n) !== null))
        return unpackParts(await collectParts(absolute), opts);
      const tars = names.filter((n) => n.endsWith('.tar'));
      if (tars.length === 1) {
        await assertPlainFiles([join(path, tars[0]!)]);
        return unpackTar(join(path, tars[0]!), opts);
      }
      throw usage(
        `import PATH ${path} is not a feed directory (no ${FEED_FILE}), not a TUF repository (no ${TUF_TIMESTAMP}) and holds no export parts ` +
          `(*.tar.part-NNN-of-NNN) and no single .tar`,
        { path },
      );
    }
    if (parsePartName(basename(path)) === null) return unpackTar(path, opts);
  }
  return unpackParts(await collectParts(absolute), opts);
}

/** A directory used where it lies: refused when anything in it is not a plain file or directory. */
async function inPlace(root: string): Promise<ImportSource> {
  await assertPlainTree(root);
  return {
    kind: 'directory',
    root,
    unpacked: false,
    archiveBytes: 0,
    parts: [],
    cleanup: async () => undefined,
  };
}

/** What a directory entry is, for a refusal: anything but a file or directory. */
function entryKind(entry: Dirent): string {
  if (entry.isSymbolicLink()) return 'symbolic link';
  if (entry.isFIFO()) return 'FIFO';
  if (entry.isSocket()) return 'socket';
  if (entry.isBlockDevice() || entry.isCharacterDevice()) return 'device';
  return 'unknown type';
}

/**
 * Refuse a directory bundle holding links (to a file or a directory, pointing in or out) or
 * devices, as a tar bundle's are refused: an import reads plain files only, so a link can
 * never carry a file from outside the bundle into the mirror. The walk does not follow links.
 */
export async function assertPlainTree(root: string): Promise<void> {
  const rejected: string[] = [];
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (!entry.isFile()) rejected.push(`${relative(root, path)} (${entryKind(entry)})`);
    }
  }
  if (rejected.length === 0) return;
  rejected.sort();
  throw refused(
    `${root} holds entries that are not plain files or directories: ${rejected.slice(0, 5).join(', ')}` +
      `${rejected.length > 5 ? ` (+${rejected.length - 5} more)` : ''}; links in a bundle are refused, ` +
      'not followed (copy the files themselves into it). Nothing was imported',
    { path: root, rejected },
  );
}

/** Refuse archive files found in a directory that are links or anything but a regular file. */
async function assertPlainFiles(files: readonly string[]): Promise<void> {
  const rejected: string[] = [];
  for (const file of files) if (!(await lstat(file)).isFile()) rejected.push(file);
  if (rejected.length === 0) return;
  throw refused(
    `${rejected.slice(0, 5).join(', ')}: not a plain file (a link?); links in a bundle are refused, ` +
      'not followed. Nothing was imported',
    { rejected },
  );
}

/**
 * Refuse a compressed archive by its first bytes: tar would quietly unpack gzip or zstd, and
 * the free-space check counts the bytes given, not the (unbounded) bytes they unpack to.
 */
async function assertUncompressed(path: string, label: string): Promise<void> {
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(COMPRESSION_SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const compression = compressionOf(head);
  if (compression === null) return;
  throw refused(
    `${label} is ${compression}-compressed, not a plain tar archive: import takes the uncompressed .tar ` +
      '(or its parts) that export writes, so that the free-space check counts what is unpacked; ' +
      `decompress it first. Nothing was imported`,
    { path: label, compression },
  );
}

interface FoundPart {
  path: string;
  archive: string;
  index: number;
  count: number;
}

/**
 * The complete, ordered parts of one chunked export, from directories that hold parts and
 * part files (a part file alone brings its siblings). Missing or mixed parts are refused by name.
 */
export async function collectParts(
  paths: readonly string[],
): Promise<{ parts: FoundPart[]; index: Map<string, PartEntry> }> {
  const found = new Map<string, FoundPart>();
  const dirs = new Set<string>();
  const add = (path: string) => {
    const parsed = parsePartName(basename(path));
    if (parsed && !found.has(basename(path))) found.set(basename(path), { path, ...parsed });
  };
  for (const path of paths) {
    const info = await stat(path);
    if (info.isDirectory()) dirs.add(path);
    else if (parsePartName(basename(path)) === null) {
      throw usage(`${path} is not a part of a chunked export (*.tar.part-NNN-of-NNN)`, { path });
    } else {
      add(path);
      dirs.add(dirname(path));
    }
  }
  for (const dir of dirs) for (const name of await readdir(dir)) add(join(dir, name));
  const archives = new Set([...found.values()].map((p) => p.archive));
  if (archives.size === 0) throw usage(`no export parts in ${paths.join(', ')}`, { paths });
  // Given part files name their export; directories may hold parts of others too.
  const named = paths
    .map((p) => parsePartName(basename(p))?.archive)
    .filter((a): a is string => a !== undefined);
  const wanted = named.length > 0 ? new Set(named) : archives;
  if (wanted.size > 1) {
    throw usage(
      `the paths hold parts of more than one export (${[...wanted].join(', ')}); import one at a time`,
      {
        archives: [...wanted],
      },
    );
  }
  const archive = [...wanted][0]!;
  const parts = [...found.values()].filter((p) => p.archive === archive).sort((a, b) => a.index - b.index);
  // found beside the named paths: a link (to /dev/zero, a secret) is not read as a part
  await assertPlainFiles(parts.map((p) => p.path).filter((p) => !paths.includes(p)));
  const count = parts[0]!.count;
  if (parts.some((p) => p.count !== count)) {
    throw refused(`the parts of ${archive} disagree about how many parts there are`, { archive });
  }
  const have = new Set(parts.map((p) => p.index));
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !have.has(i));
  if (missing.length > 0) {
    throw refused(
      `${archive} has ${count} parts; missing: part ${missing.join(', ')} of ${count}. ` +
        "Give all parts in one go (a directory holding them, or each medium's directory)",
      { archive, count, missing },
    );
  }
  return { parts, index: await readPartsIndex(dirs, archive) };
}

/** parts.json beside the parts, when there is one for this export: expected sizes and digests. */
async function readPartsIndex(dirs: Iterable<string>, archive: string): Promise<Map<string, PartEntry>> {
  for (const dir of dirs) {
    const path = join(dir, PARTS_INDEX_FILE);
    const bytes = await readFile(path).catch(() => undefined);
    if (!bytes) continue;
    const index = parsePartsIndex(bytes, path);
    if (!index.parts.every((p) => parsePartName(p.name)?.archive === archive)) continue;
    return new Map(index.parts.map((p) => [p.name, p]));
  }
  return new Map();
}

async function newStagingDir(parent: string): Promise<string> {
  const dir = join(parent, `import-${process.pid}-${randomBytes(6).toString('hex')}`);
  await ensurePrivateDir(dir);
  return dir;
}

async function unpackTar(path: string, opts: OpenSourceOptions): Promise<ImportSource> {
  await assertUncompressed(path, path);
  const size = (await stat(path)).size;
  await opts.beforeUnpack?.(size);
  return unpack('tar', size, [], createReadStream(path), path, opts);
}

async function unpackParts(
  found: { parts: FoundPart[]; index: Map<string, PartEntry> },
  opts: OpenSourceOptions,
): Promise<ImportSource> {
  const sizes = await Promise.all(found.parts.map(async (p) => (await stat(p.path)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  await assertUncompressed(found.parts[0]!.path, found.parts[0]!.archive);
  await opts.beforeUnpack?.(total);
  const stream = Readable.from(concatenateParts(found.parts, found.index));
  const label = found.parts[0]!.archive;
  return unpack(
    'parts',
    total,
    found.parts.map((p) => p.path),
    stream,
    label,
    opts,
  );
}

/** The parts one after another, each checked against parts.json (when present) as it ends. */
async function* concatenateParts(parts: FoundPart[], index: Map<string, PartEntry>): AsyncGenerator<Buffer> {
  for (const part of parts) {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(part.path, { highWaterMark: 1 << 20 })) {
      const buf = chunk as Buffer;
      hash.update(buf);
      size += buf.length;
      yield buf;
    }
    const expected = index.get(basename(part.path));
    const actual = hash.digest('hex');
    if (expected && (expected.size !== size || expected.sha256 !== actual)) {
      throw refused(
        `part ${basename(part.path)} (${part.path}) is damaged: ${size} bytes with SHA-256 ${actual}, ` +
          `parts.json says ${expected.size} bytes with ${expected.sha256}`,
        { part: part.path },
      );
    }
  }
}

/** Regular files and directories only: links and devices in a bundle are refused, not followed. */
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

async function unpack(
  kind: 'tar' | 'parts',
  archiveBytes: number,
  parts: string[],
  input: NodeJS.ReadableStream,
  label: string,
  opts: OpenSourceOptions,
): Promise<ImportSource> {
  const staging = await newStagingDir(opts.stagingParent);
  // After a failed unpack, tar may still finish a write or two: retry until the tree is gone.
  const cleanup = async () => {
    await rm(staging, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  };
  const rejected: string[] = [];
  let unpackedBytes = 0;
  // An uncompressed tar never unpacks to more than its own size, the figure the free-space
  // check was given: an entry past it is not written (a compression the sniff missed).
  let beyondChecked: string | undefined;
  try {
    try {
      await pipeline(
        input,
        extract({
          cwd: staging,
          strict: true,
          maxDepth: 8,
          filter: (path, entry) => {
            const type = 'type' in entry ? String(entry.type) : 'File';
            if (!ALLOWED_TYPES.has(type)) {
              rejected.push(`${path} (${type})`);
              return false;
            }
            const size = 'size' in entry ? Number(entry.size) : 0;
            if (beyondChecked !== undefined || unpackedBytes + size > archiveBytes) {
              beyondChecked ??= path;
              return false;
            }
            unpackedBytes += size;
            return true;
          },
        }),
      );
    } catch (err) {
      if (isPatchbayError(err)) throw err;
      throw refused(`${label} is not a readable tar archive: ${errorMessage(err)}`, { path: label }, err);
    }
    if (beyondChecked !== undefined) {
      throw refused(
        `${label} unpacks to more than its own ${archiveBytes} bytes (at ${beyondChecked}), the size the ` +
          'free-space check counted: not a plain tar archive. Nothing was imported',
        { path: label, archiveBytes, entry: beyondChecked },
      );
    }
    if (rejected.length > 0) {
      throw refused(
        `${label} holds entries that are not plain files or directories: ${rejected.slice(0, 5).join(', ')}`,
        {
          path: label,
          rejected,
        },
      );
    }
    const root = await findFeedRoot(staging);
    if (root === null) {
      throw refused(
        `${label} holds no ${FEED_FILE} or ${TUF_TIMESTAMP} at its top (nor in a single top-level directory)`,
        {
          path: label,
        },
      );
    }
    return {
      kind,
      root,
      unpacked: true,
      archiveBytes: Math.max(archiveBytes, unpackedBytes),
      parts,
      cleanup,
    };
  } catch (err) {
    await cleanup();
    // a write that was in flight when the first pass ran
    await new Promise((r) => setTimeout(r, 100));
    await cleanup();
    throw err;
  }
}

/** `tar -cf x.tar -C DIR .` puts feed.json at the top; `tar -cf x.tar DIR` one directory down. */
async function findFeedRoot(staging: string): Promise<string | null> {
  if (await isBundleRoot(staging)) return staging;
  const entries = await readdir(staging, { withFileTypes: true });
  if (entries.length === 1 && entries[0]!.isDirectory()) {
    const inner = join(staging, entries[0]!.name);
    if (await isBundleRoot(inner)) return inner;
  }
  return null;
}

/** A TUF repository's timestamp: a bundle of a TUF-mode server (or a publisher's repository) has it. */
const TUF_TIMESTAMP = 'metadata/timestamp.json';

/** The top of a bundle: feed.json (a feed directory or export), or a TUF repository's metadata/timestamp.json. */
async function isBundleRoot(dir: string): Promise<boolean> {
  return (await isFile(join(dir, FEED_FILE))) || (await isFile(join(dir, ...TUF_TIMESTAMP.split('/'))));
}
