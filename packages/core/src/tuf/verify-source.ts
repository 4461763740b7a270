// Where verification reads a repository from (verify.ts): a directory, or anything that serves
// the same names. The directory source refuses a file that leads out of its subdirectory.
import { createReadStream } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCodes, PatchbayError } from '../errors.js';
import { HASH_READ_BYTES } from '../hash.js';
import { isInside } from '../platform-path.js';
import { METADATA_DIR, TARGETS_DIR } from './layout.js';

/** Where verification reads a repository from: a directory, or anything that serves the same names. */
export interface RepositorySource {
  /** for messages: the directory or base URL */
  readonly location: string;
  /** bytes of `metadata/<name>`, or undefined when it does not exist */
  readMetadata(name: string): Promise<Buffer | undefined>;
  /** a stream of `targets/<path>` (consistent-snapshot path), or undefined when it does not exist */
  openTarget(path: string): Promise<Readable | undefined>;
}

/**
 * A repository directory (`metadata/`, `targets/`) as a RepositorySource. A file whose real
 * path (symlinks resolved) leaves its subdirectory is refused with an error, never read: a
 * hostile bundle cannot make verification read, hash or quote files from elsewhere.
 */
export function directorySource(dir: string): RepositorySource {
  const contained = async (sub: string, parts: string[]): Promise<string | undefined> => {
    const path = join(dir, sub, ...parts);
    let real: string;
    let realBase: string;
    try {
      [real, realBase] = await Promise.all([realpath(path), realpath(join(dir, sub))]);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    if (!isInside(realBase, real)) {
      throw new PatchbayError(
        ErrorCodes.TUF_VERIFY,
        `${sub}/${parts.join('/')} leads outside ${sub}/ (a symlink); not read`,
        {
          file: path,
        },
      );
    }
    return real;
  };
  return {
    location: dir,
    async readMetadata(name) {
      const path = await contained(METADATA_DIR, [name]);
      if (path === undefined) return undefined;
      try {
        return await readFile(path);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async openTarget(path) {
      const file = await contained(TARGETS_DIR, path.split('/'));
      if (file === undefined) return undefined;
      const stream = createReadStream(file, { highWaterMark: HASH_READ_BYTES });
      try {
        await new Promise<void>((resolve, reject) => {
          stream.once('open', () => resolve());
          stream.once('error', reject);
        });
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
      return stream;
    },
  };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
