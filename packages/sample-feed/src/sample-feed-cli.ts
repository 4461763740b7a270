import { resolve } from 'node:path';
import { errorMessage } from '@patchbay/core';
import { integerFlag, parseCli, UsageError } from './cli-args.js';
import { defaultSampleFeedDir } from './paths.js';
import { renderPatchTable } from './patch-table.js';
import { DEFAULT_SAMPLE_SEQUENCE, generateSampleFeed, samplePatches } from './sample-feed.js';

const USAGE = `usage: patchbay-sample-feed generate [--out DIR] [--sequence N] [--extra-patches] [--json]
       patchbay-sample-feed table [--extra-patches]

generate  write the deterministic sample feed (default DIR: packages/sample-feed/feed,
          default sequence ${DEFAULT_SAMPLE_SEQUENCE}); files already up to date are left alone
table     print the Markdown patches table of docs/sample-feed.md`;

/** Exit codes as CONTRACT §3: 0 ok, 1 the operation failed, 2 bad usage. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCli(argv, {
      out: { type: 'string' },
      sequence: { type: 'string' },
      'extra-patches': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (parsed.values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const [command, ...rest] = parsed.positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const extraPatches = parsed.values['extra-patches'] === true;
    if (command === 'table') {
      process.stdout.write(renderPatchTable(samplePatches({ extraPatches })));
      return 0;
    }
    if (command !== 'generate') {
      throw new UsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
    }
    const sequence = integerFlag('sequence', parsed.values.sequence, 1) ?? DEFAULT_SAMPLE_SEQUENCE;
    const outDir =
      typeof parsed.values.out === 'string' ? resolve(parsed.values.out) : defaultSampleFeedDir();
    return await generate({ outDir, sequence, extraPatches, json: parsed.values.json === true });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`patchbay-sample-feed: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

async function generate(opts: {
  outDir: string;
  sequence: number;
  extraPatches: boolean;
  json: boolean;
}): Promise<number> {
  try {
    const result = await generateSampleFeed(opts);
    const summary = {
      dir: opts.outDir,
      sequence: opts.sequence,
      patches: result.feed?.patches.length ?? 0,
      files: result.files.length,
      changed: result.changed,
      removed: result.removed.length,
    };
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(summary)}\n`
        : `sample feed: ${summary.patches} patches, ${summary.files} files, sequence ${summary.sequence} in ${summary.dir} (${summary.changed === 0 && summary.removed === 0 ? 'up to date' : `${summary.changed} written, ${summary.removed} removed`})\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(
      `patchbay-sample-feed: cannot write the sample feed to ${opts.outDir}: ${errorMessage(err)}\n`,
    );
    return 1;
  }
}
