// patchbay-publish import-feed: vouch for a vendor's patchbay-feed/1 by publishing it as
// signed targets. The feed (and its signature, with --vendor-key) is checked, every file is
// fetched from the feed's own origin and checked against its size and SHA-256, and every patch
// whose files all verified goes in, in one new version of each changed role. A patch whose file
// fails is reported and left out, with every patch that requires it (exit 1).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContentStore,
  ErrorCodes,
  PatchbayError,
  errorMessage,
  holdBack,
  parseFeed,
  verifyDetached,
  type Feed,
  type Logger,
} from '@patchbay/core';
import { descriptorFromPatch } from '@patchbay/core/tuf';
import { RepositoryEdit } from '../edit.js';
import { fetchFeedDocument, fetchFeedFile, feedLocation, type FeedLocation } from '../feed-source.js';
import { describeWritten, type Outcome } from '../outcome.js';
import { stagePatch, updateTargetsInfo, type PatchOutcome } from '../patches.js';

export interface ImportFeedOptions {
  feed: string;
  vendorKeyFile: string | undefined;
  repo: string;
  keys: string;
  /** files fetched at once */
  concurrency: number;
  now: Date;
  log: Logger;
}

/** Attempts after the first for each document and file (network errors and 5xx). */
const RETRIES = 2;

export async function importFeed(opts: ImportFeedOptions): Promise<Outcome> {
  const location = feedLocation(opts.feed);
  const vendorKey = opts.vendorKeyFile === undefined ? undefined : await readVendorKey(opts.vendorKeyFile);
  const bytes = await fetchFeedDocument(location, location.feedUrl, { retries: RETRIES });
  if (vendorKey !== undefined) {
    const sigUrl = new URL(`${location.feedUrl.href}.sig`);
    const signature = await fetchFeedDocument(location, sigUrl, { retries: RETRIES });
    if (!verifyDetached(bytes, signature.toString('utf8'), vendorKey)) {
      throw new PatchbayError(
        ErrorCodes.SIGNATURE,
        `${sigUrl.href} is not a valid signature of feed.json by ${opts.vendorKeyFile}`,
        {
          url: sigUrl.href,
        },
      );
    }
  }
  const feed = parseFeed(bytes, location.feedUrl.href);

  const edit = await RepositoryEdit.open(opts.repo, opts.keys, opts.now);
  const scratch = await mkdtemp(join(tmpdir(), 'patchbay-import-'));
  try {
    const store = new ContentStore(scratch);
    const { sources, failed } = await fetchFiles(location, feed, store, opts);
    const skipped = new Map(holdBack(feed.patches, failed).map((h) => [h.patchId, h.error]));
    updateTargetsInfo(edit, feed.vendor, feed.products);
    const outcomes = new Map<string, PatchOutcome>();
    for (const patch of feed.patches) {
      if (skipped.has(patch.id)) continue;
      const files = new Map(patch.files.map((f) => [f.name, sources.get(f.sha256)!]));
      outcomes.set(
        patch.id,
        await stagePatch(edit, { descriptor: descriptorFromPatch(patch), sources: files }),
      );
    }
    const written = edit.changed ? await edit.commit() : [];

    const count = (o: PatchOutcome) => [...outcomes.values()].filter((v) => v === o).length;
    const skippedList = [...skipped].map(([patchId, error]) => ({ patchId, error }));
    const lines = [
      `${feed.vendor} feed sequence ${feed.sequence} from ${location.feedUrl.href}${vendorKey ? ' (signature verified)' : ''}: ` +
        `${count('added')} added, ${count('replaced')} replaced, ${count('unchanged')} unchanged, ${skipped.size} skipped`,
      ...skippedList.map((s) => `  skipped ${s.patchId}: ${s.error}`),
      ...(written.length === 0 ? ['repository unchanged'] : written.map(describeWritten)),
    ];
    return {
      ok: skipped.size === 0,
      json: {
        feed: location.feedUrl.href,
        vendor: feed.vendor,
        sequence: feed.sequence,
        signatureVerified: vendorKey !== undefined,
        patches: Object.fromEntries(outcomes),
        skipped: skippedList,
        written,
      },
      lines,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function readVendorKey(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new PatchbayError(ErrorCodes.USAGE, `--vendor-key ${file}: ${errorMessage(err)}`, {});
  }
}

/** Fetch every distinct file (by digest) of the feed; a failure fails each patch that names it. */
async function fetchFiles(
  location: FeedLocation,
  feed: Feed,
  store: ContentStore,
  opts: ImportFeedOptions,
): Promise<{ sources: Map<string, string>; failed: Map<string, string> }> {
  const jobs = feed.patches.flatMap((patch) => patch.files.map((file) => ({ patch, file })));
  const sources = new Map<string, string>();
  const failed = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const { patch, file } = job;
      try {
        const path = await fetchFeedFile(location, file, store, { retries: RETRIES });
        // two patches may name one digest; a file already stored by the other is not re-read,
        // so its size is checked against this patch's declaration here
        const { size } = await stat(path);
        if (size !== file.size) {
          throw new PatchbayError(
            ErrorCodes.SIZE_MISMATCH,
            `declares ${file.size} bytes, but the file with sha256 ${file.sha256} has ${size}`,
            { file: file.name, sha256: file.sha256 },
          );
        }
        sources.set(file.sha256, path);
      } catch (err) {
        opts.log.warn({ patchId: patch.id, file: file.name, err: errorMessage(err) }, 'feed file failed');
        if (!failed.has(patch.id)) failed.set(patch.id, `file ${file.name}: ${errorMessage(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  return { sources, failed };
}
