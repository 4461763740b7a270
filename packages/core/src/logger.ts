import { pino, type Logger } from 'pino';
import { redactCredentials } from './redact.js';

export type { Logger };

/**
 * Structured logs go to stderr, so stdout stays free for a CLI's human or --json output.
 * PATCHBAY_LOG_LEVEL, when set, wins over the configured level, as an environment override
 * should: a service unit or a test quietens or raises logging without editing the config.
 */
export function createLogger(opts: { name: string; level?: string }): Logger {
  const level = process.env.PATCHBAY_LOG_LEVEL || opts.level || 'info';
  // Safety net: no line leaves with a URL's user:password, whatever field or message holds it.
  return pino({ name: opts.name, level, hooks: { streamWrite: redactCredentials } }, pino.destination(2));
}
