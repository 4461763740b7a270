import { resolve } from 'node:path';
import { errorMessage } from '@patchbay/core';
import { integerFlag, parseCli, UsageError } from './cli-args.js';
import { defaultSampleFeedDir, defaultSampleRepositoryDir } from './paths.js';
import { renderPatchTable } from './patch-table.js';
import { DEFAULT_SAMPLE_SEQUENCE, generateSampleFeed, samplePatches } from './sample-feed.js';
import { buildSampleRepository, DEFAULT_RENEW_DAYS } from './sample-repository.js';

const USAGE = `usage: patchbay-sample-feed generate [--out DIR] [--sequence N] [--extra-patches] [--json]
       patchbay-sample-feed repository [--feed DIR] [--out DIR] [--renew-days N] [--json]
       patchbay-sample-feed table [--extra-patches]

generate    write the deterministic sample feed (default DIR: packages/sample-feed/feed,
            default sequence ${DEFAULT_SAMPLE_SEQUENCE}); files already up to date are left alone
repository  make or update the sample TUF repository (default DIR: packages/sample-feed/repository)
            from the sample feed with patchbay-publish and the committed DEMO keys (set to mode
            0600); writes nothing when the feed is unchanged; re-signs the snapshot and
            timestamp when they expire within --renew-days (default ${DEFAULT_RENEW_DAYS})
table       print the Markdown patches table of docs/sample-feed.md`;

/** Exit codes as CONTRACT §3: 0 ok, 1 the operation failed, 2 bad usage. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCli(argv, {
      out: { type: 'string' },
      feed: { type: 'string' },
      'renew-days': { type: 'string' },
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
    if (command === 'repository') {
      const feedDir =
        typeof parsed.values.feed === 'string' ? resolve(parsed.values.feed) : defaultSampleFeedDir();
      const outDir =
        typeof parsed.values.out === 'string' ? resolve(parsed.values.out) : defaultSampleRepositoryDir();
      const renewDays = integerFlag('renew-days', parsed.values['renew-days'], 0) ?? DEFAULT_RENEW_DAYS;
      return await repository({ feedDir, outDir, renewDays, json: parsed.values.json === true });
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

async function repository(opts: {
  feedDir: string;
  outDir: string;
  renewDays: number;
  json: boolean;
}): Promise<number> {
  try {
    const result = await buildSampleRepository(opts);
    const { versions } = result;
    const what =
      result.written.length === 0
        ? 'up to date'
        : `${result.created ? 'made' : 'updated'}${result.renewed ? ', snapshot and timestamp renewed' : ''}: ${result.written.length} metadata files written`;
    const lines = [
      `sample repository: ${result.patches} patches, root version ${versions.root}, targets version ${versions.targets}, snapshot version ${versions.snapshot} in ${result.dir} (${what}); verified, publisher timestamp valid until ${result.expires}`,
      ...result.securedKeys.map((file) => `  DEMO private key ${file} set to mode 0600`),
    ];
    process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(
      `patchbay-sample-feed: cannot make the sample repository in ${opts.outDir}: ${errorMessage(err)}\n`,
    );
    return 1;
  }
}
