// How `serve` stops on SIGTERM/SIGINT (app.close()): stop accepting at once, let responses in flight
// (a client mid-download of a large blob) finish for a bounded grace, then cut what is left.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
import type { Logger } from '@patchbay/core';

/**
 * How long responses in flight may continue after the stop signal (documented in
 * docs/cli.md). Long enough for a LAN client to finish a patch file it is reading; short
 * enough for a service manager's stop timeout (systemd's default is 90 s).
 */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Once the work is done, the process must end even if a stray handle (a socket, a timer)
 * would keep the event loop alive; this long after shutdown it exits anyway.
 */
export const EXIT_BACKSTOP_MS = 5_000;

/**
 * Responses in flight, each with its socket (a finished response is detached from it), so a
 * shutdown can end each keep-alive connection as soon as its response has been handed to the OS.
 */
function trackResponses(app: FastifyInstance): Map<ServerResponse, Socket> {
  const active = new Map<ServerResponse, Socket>();
  app.server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    active.set(res, res.socket as Socket);
    res.once('close', () => active.delete(res));
  });
  return active;
}

/**
 * fastify close(): the listener stops at once (new connections are refused), idle keep-alive
 * connections are closed (forceCloseConnections: 'idle'), requests arriving on busy ones get
 * 503 (return503OnClosing), and close waits for the connections left. A connection whose
 * response was under way would then linger for keepAliveTimeout, so it is ended right after
 * its response is flushed ('finish'; ending earlier would cut bytes still being written:
 * Node's closeIdleConnections counts a response whose end() was called as done). After
 * `graceMs` whatever is left is destroyed. Register it last: its onClose runs first, as soon
 * as the HTTP side has closed.
 */
async function gracefulClose(
  app: FastifyInstance,
  { logger, graceMs = SHUTDOWN_GRACE_MS }: { logger: Logger; graceMs?: number },
): Promise<void> {
  const active = trackResponses(app);
  let timer: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    timer = setTimeout(() => {
      logger.warn({ graceMs }, 'shutdown grace over: closing connections still sending');
      app.server.closeAllConnections();
    }, graceMs);
    for (const [res, socket] of active) {
      if (res.writableFinished) socket.end();
      else res.once('finish', () => socket.end());
    }
  });
  app.addHook('onClose', async () => {
    clearTimeout(timer);
    logger.debug({ part: 'http' }, 'closed');
  });
}

export const gracefulClosePlugin = fastifyPlugin(gracefulClose, { name: 'patchbay-graceful-close' });

/** Exit with `code` after `ms` unless the process has ended by itself before. */
export function armExitBackstop(code: number, ms = EXIT_BACKSTOP_MS): void {
  setTimeout(() => process.exit(code), ms).unref();
}
