import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createLogger, errorMessage } from '@patchbay/core';
import { integerFlag, parseCli, UsageError } from './cli-args.js';
import { startUpstreamServer } from './upstream-server.js';

const USAGE = `usage: patchbay-upstream --dir DIR [--host 127.0.0.1] [--port 0] [--throttle BYTES_PER_S] [--json]

Serves a feed directory over HTTP (GET and HEAD, strong ETags, Range, If-Range) until SIGTERM
or SIGINT. Prints the URL as one line on stdout once listening. Set PATCHBAY_LOG_LEVEL=debug
for one log line per request on stderr. --throttle paces each response body to at most that
many bytes per second (so a test can interrupt a sync in the middle).`;

/** Exit codes as CONTRACT §3: 0 ok, 1 the server failed, 2 bad usage. Resolves on SIGTERM/SIGINT. */
export async function main(argv: readonly string[]): Promise<number> {
  let dir: string;
  let host: string;
  let port: number;
  let json: boolean;
  let throttle: number | undefined;
  try {
    const { values, positionals } = parseCli(argv, {
      dir: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      throttle: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (typeof values.dir !== 'string' || values.dir === '') throw new UsageError('--dir DIR is required');
    dir = resolve(values.dir);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new UsageError(`--dir ${values.dir}: not a directory`);
    host = typeof values.host === 'string' ? values.host : '127.0.0.1';
    port = integerFlag('port', values.port, 0) ?? 0;
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    json = values.json === true;
    throttle = integerFlag('throttle', values.throttle, 1);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`patchbay-upstream: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }

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
  const signal = new Promise<NodeJS.Signals>((resolveSignal) => {
    const onSignal = (name: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolveSignal(name);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.stdout.write(
    json ? `${JSON.stringify({ url: server.url })}\n` : `patchbay-upstream listening on ${server.url}\n`,
  );
  logger.info({ url: server.url, dir }, 'listening');

  logger.info({ signal: await signal }, 'closing');
  await server.close();
  return 0;
}
