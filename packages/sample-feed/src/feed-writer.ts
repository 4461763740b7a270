import { sign, createPrivateKey, type KeyObject } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ErrorCodes,
  PatchbayError,
  isSafeFileName,
  sha256Hex,
  writeFileAtomic,
  type Feed,
  type FeedFile,
  type FeedPatch,
} from '@patchbay/core';
import { stringifyFeed } from './stable-json.js';

/** A feed file entry before it is written: size, sha256 and url are filled in when absent. */
export interface FeedFileInput {
  name: string;
  url?: string;
  size?: number;
  sha256?: string;
}

export type FeedPatchInput = Omit<FeedPatch, 'files'> & { files: FeedFileInput[] };

export type FeedInput = Omit<Feed, 'patches'> & { patches: FeedPatchInput[] };

export interface WriteFeedDirectoryOptions {
  /** the feed directory; created when missing */
  dir: string;
  /**
   * The catalog. A file entry without size/sha256/url gets them from its content in `files`
   * (url `files/<name>`); values given explicitly are written as given, even when wrong, so
   * tests can craft feeds whose files fail their checks.
   */
  feed?: FeedInput;
  /** exact bytes for feed.json instead of serialising `feed` (malformed or hand-written feeds) */
  rawFeedJson?: string | Buffer;
  /** file name -> content, written to `files/<name>`; names must be plain file names */
  files?: Readonly<Record<string, Buffer | string>>;
  /** Ed25519 private key (KeyObject or PEM): also writes feed.json.sig (base64, CONTRACT §1) */
  signingKey?: KeyObject | string;
  /** delete files under `files/` that are not in `files` (the generator's idempotent rewrite) */
  prune?: boolean;
}

export interface WrittenFile {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

export interface WrittenFeedDirectory {
  dir: string;
  feedPath: string;
  /** the exact feed.json bytes written */
  feedJson: Buffer;
  /** the completed feed (undefined when rawFeedJson was given) */
  feed?: Feed;
  files: WrittenFile[];
  /** how many files (feed.json, its signature and patch files) got new bytes; 0 on a re-run */
  changed: number;
  /** files removed by `prune` */
  removed: string[];
}

/**
 * Write a feed directory: `files/<name>` for each content, then feed.json (pretty JSON, stable
 * key order), each atomically, and feed.json last so that a reader never sees a catalog naming
 * files not yet written. A file whose bytes are already in place is not rewritten, which keeps
 * mtimes (and so Last-Modified and ETag caches) stable across identical runs.
 */
export async function writeFeedDirectory(opts: WriteFeedDirectoryOptions): Promise<WrittenFeedDirectory> {
  if ((opts.feed === undefined) === (opts.rawFeedJson === undefined)) {
    throw new PatchbayError(ErrorCodes.USAGE, 'writeFeedDirectory needs exactly one of feed or rawFeedJson', {
      dir: opts.dir,
    });
  }
  const contents = opts.files ?? {};
  const filesDir = join(opts.dir, 'files');
  let changed = 0;

  const written: WrittenFile[] = [];
  for (const [name, content] of Object.entries(contents)) {
    if (!isSafeFileName(name)) {
      throw new PatchbayError(ErrorCodes.UNSAFE_NAME, `feed file "${name}" is not a plain file name`, {
        name,
      });
    }
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const path = join(filesDir, name);
    if (await writeIfChanged(path, bytes)) changed++;
    written.push({ name, path, size: bytes.length, sha256: sha256Hex(bytes) });
  }

  const removed = opts.prune ? await pruneFiles(filesDir, new Set(Object.keys(contents))) : [];

  const feed = opts.feed === undefined ? undefined : completeFeed(opts.feed, written);
  const raw = opts.rawFeedJson;
  const feedJson = Buffer.isBuffer(raw) ? raw : Buffer.from(raw ?? stringifyFeed(feed), 'utf8');
  const feedPath = join(opts.dir, 'feed.json');
  const sigPath = join(opts.dir, 'feed.json.sig');
  if (opts.signingKey !== undefined) {
    const key = typeof opts.signingKey === 'string' ? createPrivateKey(opts.signingKey) : opts.signingKey;
    if (await writeIfChanged(sigPath, Buffer.from(sign(null, feedJson, key).toString('base64')))) changed++;
  } else {
    // A signature left from an earlier signed write would not match the new bytes.
    await rm(sigPath, { force: true });
  }
  if (await writeIfChanged(feedPath, feedJson)) changed++;

  return { dir: opts.dir, feedPath, feedJson, feed, files: written, changed, removed };
}

function completeFeed(input: FeedInput, written: readonly WrittenFile[]): Feed {
  const byName = new Map(written.map((file) => [file.name, file]));
  const patches = input.patches.map((patch): FeedPatch => {
    const files = (patch.files ?? []).map((entry): FeedFile => {
      const content = byName.get(entry.name);
      if (content === undefined && (entry.size === undefined || entry.sha256 === undefined)) {
        throw new PatchbayError(
          ErrorCodes.FEED_INVALID,
          `patch ${patch.id} names file "${entry.name}" without content and without an explicit size and sha256`,
          { patchId: patch.id, name: entry.name },
        );
      }
      return {
        ...entry,
        url: entry.url ?? `files/${entry.name}`,
        size: entry.size ?? content!.size,
        sha256: entry.sha256 ?? content!.sha256,
      };
    });
    return { ...patch, files };
  });
  return { ...input, patches };
}

/** Atomically write `bytes` unless the file already holds exactly them; true when written. */
async function writeIfChanged(path: string, bytes: Buffer): Promise<boolean> {
  const current = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (current !== undefined && current.equals(bytes)) return false;
  // a feed is published as it lies: readable as the umask allows
  await writeFileAtomic(path, bytes, { mode: 'umask' });
  return true;
}

async function pruneFiles(filesDir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const names = await readdir(filesDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const removed: string[] = [];
  for (const name of names.sort()) {
    if (keep.has(name)) continue;
    await rm(join(filesDir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}
