// `patchbay-server serve` as a process: build the app (serve-app.ts), listen, and on SIGTERM
// or SIGINT close it (docs/reliability.md "Shutdown"). cli.ts prints where it listens.
import type { AddressInfo } from 'node:net';
import { waitForStopSignal, type Logger, type ServerConfig } from '@patchbay/core';
import { assertCanListen, listenError } from '../listen-check.js';
import { armExitBackstop } from '../shutdown.js';
import { readTlsFiles } from '../trust/tls.js';
import { buildServeApp } from './serve-app.js';

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Serve until a stop signal; 0 after a clean stop. `onListening` gets the base URL. */
export async function runServer(
  config: ServerConfig,
  logger: Logger,
  onListening: (url: string) => void,
): Promise<number> {
  // Read before anything opens: an unreadable cert or key is bad config (exit 2).
  const https = readTlsFiles(config.listen);
  // A port in use fails here, before the mirror opens (and makes its keys) in the data directory.
  const { host, port } = config.listen;
  await assertCanListen(host, port);
  // From here on a SIGTERM means a clean stop (default handling would kill mid-write).
  const stopSignal = waitForStopSignal();
  const app = await buildServeApp(config, logger, https ? { https } : {});
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw listenError(err, host, port);
  }
  const bound = (app.server.address() as AddressInfo).port;
  onListening(`${https ? 'https' : 'http'}://${urlHost(host)}:${bound}`);

  const signal = await stopSignal;
  logger.info({ signal }, 'shutting down');
  // A second signal while a sync winds down means "now".
  const forceExit = (): void => {
    logger.warn('second signal: exiting without waiting');
    process.exit(1);
  };
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);
  try {
    await app.close();
  } finally {
    process.off('SIGTERM', forceExit);
    process.off('SIGINT', forceExit);
  }
  logger.info('stopped');
  armExitBackstop(0);
  return 0;
}
