// How `serve` stops on SIGTERM/SIGINT: stop accepting at once, let responses in flight
// (a client mid-download of a large blob) finish for a bounded grace, then cut what is left.
import type { FastifyInstance } from 'fastify';
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

/** Resolves with the first SIGTERM or SIGINT; listen early, so no signal hits the default handler. */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/**
 * fastify close(): the listener stops at once (new connections are refused), idle keep-alive
 * connections are closed (forceCloseConnections: 'idle'), requests arriving on busy ones get
 * 503 (return503OnClosing), and close waits for responses in flight. That wait is unbounded,
 * so after `graceMs` the remaining connections are destroyed.
 */
export async function closeHttp(app: FastifyInstance, logger: Logger, graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
  const timer = setTimeout(() => {
    logger.warn({ graceMs }, 'shutdown grace over: closing connections still sending');
    app.server.closeAllConnections();
  }, graceMs);
  // A keep-alive connection whose response just finished would otherwise linger until
  // keepAliveTimeout: close connections as soon as they fall idle.
  const sweeper = setInterval(() => app.server.closeIdleConnections(), 200);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
    clearInterval(sweeper);
  }
}

/** Exit with `code` after `ms` unless the process has ended by itself before. */
export function armExitBackstop(code: number, ms = EXIT_BACKSTOP_MS): void {
  setTimeout(() => process.exit(code), ms).unref();
}
