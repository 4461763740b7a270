import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs go to stderr, so stdout stays free for a CLI's human or --json output.
 */
export function createLogger(opts: { name: string; level?: string }): Logger {
  return pino(
    { name: opts.name, level: opts.level ?? process.env.PATCHBAY_LOG_LEVEL ?? 'info' },
    pino.destination(2),
  );
}
