import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  endQuietlyOnBrokenPipe,
  errorMessage,
  integerOption,
  packageVersion,
  parseCommandLine,
  withCommandLineConventions,
} from '@patchbay/core';
import { defaultSampleFeedDir, defaultSampleRepositoryDir } from './paths.js';
import { renderPatchTable } from './patch-table.js';
import {
  DEFAULT_SAMPLE_SEQUENCE,
  generateSampleFeed,
  samplePatches,
  type GenerateSampleFeedOptions,
} from './sample-feed.js';
import {
  buildSampleRepository,
  DEFAULT_RENEW_DAYS,
  type BuildSampleRepositoryOptions,
} from './sample-repository.js';

const PROGRAM = 'patchbay-sample-feed';

/** The command line (docs/sample-feed.md): each command records what main() then runs. */
function commandLine(chosen: { run?: () => Promise<number> }): Command {
  const program = new Command(PROGRAM)
    .description('The deterministic sample feed and sample TUF repository (docs/sample-feed.md).')
    .option('--json', 'print one JSON document to stdout');
  withCommandLineConventions(program, {
    version: packageVersion(new URL('../package.json', import.meta.url)),
    stdout: (text) => process.stdout.write(text),
  });
  program
    .command('generate')
    .description('write the deterministic sample feed; files already up to date are left alone')
    .option('--out <DIR>', 'feed directory (default: packages/sample-feed/feed)')
    .option('--sequence <N>', 'the feed sequence', integerOption('--sequence', 1), DEFAULT_SAMPLE_SEQUENCE)
    .option('--extra-patches', 'with the extra patches of the larger tests')
    .action((o: { out?: string; sequence: number; extraPatches?: true }, cmd: Command) => {
      const outDir = o.out === undefined ? defaultSampleFeedDir() : resolve(o.out);
      const { json } = cmd.optsWithGlobals<{ json?: true }>();
      const opts = {
        outDir,
        sequence: o.sequence,
        extraPatches: o.extraPatches === true,
        json: json === true,
      };
      chosen.run = () => generate(opts);
    });
  program
    .command('repository')
    .description(
      'make or update the sample TUF repository from the sample feed with patchbay-publish and the committed ' +
        'DEMO keys (set to mode 0600); writes nothing when the feed is unchanged',
    )
    .option('--feed <DIR>', 'the sample feed (default: packages/sample-feed/feed)')
    .option('--out <DIR>', 'repository directory (default: packages/sample-feed/repository)')
    .option(
      '--renew-days <N>',
      're-sign the snapshot and timestamp when they expire within N days',
      integerOption('--renew-days', 0),
      DEFAULT_RENEW_DAYS,
    )
    .action((o: { feed?: string; out?: string; renewDays: number }, cmd: Command) => {
      const { json } = cmd.optsWithGlobals<{ json?: true }>();
      const opts = {
        feedDir: o.feed === undefined ? defaultSampleFeedDir() : resolve(o.feed),
        outDir: o.out === undefined ? defaultSampleRepositoryDir() : resolve(o.out),
        renewDays: o.renewDays,
        json: json === true,
      };
      chosen.run = () => repository(opts);
    });
  program
    .command('table')
    .description('print the Markdown patches table of docs/sample-feed.md')
    .option('--extra-patches', 'with the extra patches of the larger tests')
    .action((o: { extraPatches?: true }) => {
      chosen.run = async () => {
        process.stdout.write(renderPatchTable(samplePatches({ extraPatches: o.extraPatches === true })));
        return 0;
      };
    });
  return program;
}

/** Exit codes as CONTRACT §3: 0 ok, 1 the operation failed, 2 bad usage. */
export async function main(argv: readonly string[]): Promise<number> {
  endQuietlyOnBrokenPipe(process.stdout);
  endQuietlyOnBrokenPipe(process.stderr);
  const chosen: { run?: () => Promise<number> } = {};
  const exit = parseCommandLine(commandLine(chosen), argv);
  // every command has an action, and help, --version and bad usage ended here: one was chosen
  return exit ?? (await chosen.run!());
}

/** A command's work, exit 0; its failure one line on stderr saying what could not be done, exit 1. */
async function exitCode(cannot: string, work: () => Promise<void>): Promise<number> {
  try {
    await work();
    return 0;
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${cannot}: ${errorMessage(err)}\n`);
    return 1;
  }
}

function generate(opts: GenerateSampleFeedOptions & { sequence: number; json: boolean }): Promise<number> {
  return exitCode(`cannot write the sample feed to ${opts.outDir}`, async () => {
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
  });
}

function repository(opts: BuildSampleRepositoryOptions & { json: boolean }): Promise<number> {
  return exitCode(`cannot make the sample repository in ${opts.outDir}`, async () => {
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
  });
}
