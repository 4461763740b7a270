import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  endQuietlyOnBrokenPipe,
  createLogger,
  errorMessage,
  ErrorCodes,
  integerOption,
  packageVersion,
  parseCommandLine,
  PatchbayError,
  waitForStopSignal,
  withCommandLineConventions,
} from '@patchbay/core';
import { startUpstreamServer } from './upstream-server.js';

const PROGRAM = 'patchbay-upstream';

interface UpstreamOptions {
  dir: string;
  host: string;
  port: number;
  throttle?: number;
  json?: true;
}

/** A commander argParser for --dir: the directory, resolved, or PB_ERR_USAGE. */
function directoryOption(value: string): string {
  const dir = resolve(value);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new PatchbayError(ErrorCodes.USAGE, `--dir ${value}: not a directory`, { flag: '--dir' });
  return dir;
}

function commandLine(chosen: { options?: UpstreamOptions }): Command {
  const program = new Command(PROGRAM)
    .description(
      'Serves a feed directory over HTTP (GET and HEAD, strong ETags, Range, If-Range) until SIGTERM or ' +
        'SIGINT. Prints the URL as one line on stdout once listening. Set PATCHBAY_LOG_LEVEL=debug for ' +
        'one log line per request on stderr.',
    )
    .requiredOption('--dir <DIR>', 'the feed directory to serve', directoryOption)
    .option('--host <HOST>', 'listen address', '127.0.0.1')
    .option('--port <N>', 'listen port (0: any free port)', integerOption('--port', 0, 65535), 0)
    .option(
      '--throttle <BYTES_PER_S>',
      'pace each response body to at most that many bytes per second (a test can interrupt a sync midway)',
      integerOption('--throttle', 1),
    )
    .option('--json', 'print the URL as {"url": …}');
  withCommandLineConventions(program, {
    version: packageVersion(new URL('../package.json', import.meta.url)),
    stdout: (text) => process.stdout.write(text),
  });
  return program.action((options: UpstreamOptions) => {
    chosen.options = options;
  });
}

/** Exit codes as CONTRACT §3: 0 ok, 1 the server failed, 2 bad usage. Resolves on SIGTERM/SIGINT. */
export async function main(argv: readonly string[]): Promise<number> {
  endQuietlyOnBrokenPipe(process.stdout);
  endQuietlyOnBrokenPipe(process.stderr);
  const chosen: { options?: UpstreamOptions } = {};
  const exit = parseCommandLine(commandLine(chosen), argv);
  if (exit !== undefined) return exit;
  // the action ran: help, --version and bad usage ended above
  const { dir, host, port, throttle, json } = chosen.options!;

  const logger = createLogger({ name: 'patchbay-upstream' });
  let server;
  try {
    server = await startUpstreamServer({
      root: dir,
      host,
      port,
      logger,
      ...(throttle === undefined ? {} : { throttleBytesPerSecond: throttle }),
    });
  } catch (err) {
    process.stderr.write(`patchbay-upstream: cannot listen on ${host}:${port}: ${errorMessage(err)}\n`);
    return 1;
  }
  // The handlers go in before the URL line: whoever reads that line may signal at once.
  const signal = waitForStopSignal();
  process.stdout.write(
    json ? `${JSON.stringify({ url: server.url })}\n` : `patchbay-upstream listening on ${server.url}\n`,
  );
  logger.info({ url: server.url, dir }, 'listening');

  logger.info({ signal: await signal }, 'closing');
  await server.close();
  return 0;
}
