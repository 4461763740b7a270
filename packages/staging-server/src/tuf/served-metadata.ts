// The served TUF metadata files kept in memory with their ETags, so a host's poll (the next-root
// probe, timestamp.json with If-None-Match) is answered without reading and hashing a file each
// time. How a cached file is known to be still the one on disk:
//   - 'own-writes' (one server: the data-dir lock makes this process the repository's only
//     writer): the repository drops the cache after each of its writes; a request costs no
//     system call (a stat cost as much as the rest of a 304, measured: docs/performance.md).
//   - 'stat' (replicas, the leader too, whose lock may be gone before it knows: another
//     process renames files into place at any moment): one stat per request
//     compares the file's inode, size and times with the cached copy's (every write renames a
//     new file into place), so a replica never serves an older timestamp than the shared
//     directory holds, which a host that has seen the newer one from another replica refuses
//     as a rollback.
import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';

export interface MetadataFile {
  /** the exact bytes on disk (the signatures cover them) */
  bytes: Buffer;
  /** strong ETag, quoted: "\"<sha256 of bytes>\"" */
  etag: string;
}

export type MetadataValidation = 'own-writes' | 'stat';

interface Entry {
  /** null: no such file (the next-root probe's usual answer) */
  file: MetadataFile | null;
  /** the file's identity when read ('stat' mode); null when absent */
  mark: string | null;
}

/** Files a host asks for are few (timestamp, root, the current snapshot and roles): a bound against odd names. */
const MAX_ENTRIES = 128;

/** Errors that mean "no such metadata file" for a name (a directory in its place included). */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

function isAbsent(err: unknown): boolean {
  return ABSENT.has((err as NodeJS.ErrnoException).code ?? '');
}

const markOf = (info: Stats): string => `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;

export class ServedMetadataCache {
  private readonly entries = new Map<string, Entry>();
  /** moves on every invalidate(): a read begun before it must not fill the cache after it */
  private generation = 0;

  constructor(
    private readonly dir: string,
    private validation: MetadataValidation,
  ) {}

  /** This process has written the repository: nothing cached is trusted any more. */
  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
  }

  /** From now on (this process became, or stopped being, the repository's only writer). */
  validateBy(validation: MetadataValidation): void {
    if (validation === this.validation) return;
    this.validation = validation;
    this.invalidate();
  }

  /** metadata/<file>'s bytes and ETag, or null when there is no such file. */
  async read(file: string): Promise<MetadataFile | null> {
    const cached = this.entries.get(file);
    if (cached !== undefined && this.validation === 'own-writes') return cached.file;
    // the name was checked by the route (metadataFileFor): a file directly in dir
    const path = join(this.dir, file);
    if (cached !== undefined && (await currentMark(path)) === cached.mark) return cached.file;
    const generation = this.generation;
    const entry = await load(path);
    if (generation === this.generation) this.remember(file, entry);
    return entry.file;
  }

  private remember(file: string, entry: Entry): void {
    // the oldest first: a flood of odd names (each a valid <N>.<role>.json a host may ask for)
    // keeps memory bounded; what it pushes out is read again at its next request
    if (!this.entries.has(file) && this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(file, entry);
  }
}

async function currentMark(path: string): Promise<string | null> {
  try {
    return markOf(await stat(path));
  } catch (err) {
    if (isAbsent(err)) return null;
    throw err;
  }
}

/** The bytes and the mark of one inode: opened once, then fstat and read through the handle. */
async function load(path: string): Promise<Entry> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const info = await handle.stat();
    const bytes = await handle.readFile();
    const etag = `"${createHash('sha256').update(bytes).digest('hex')}"`;
    return { file: { bytes, etag }, mark: markOf(info) };
  } catch (err) {
    if (isAbsent(err)) return { file: null, mark: null };
    throw err;
  } finally {
    await handle?.close();
  }
}
