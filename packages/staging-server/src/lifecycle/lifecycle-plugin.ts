// What every lifecycle plugin of `serve` shares (serve-app.ts registers them).
import type { FastifyInstance } from 'fastify';
import type { Logger, ServerConfig } from '@patchbay/core';

export interface LifecycleOptions {
  config: ServerConfig;
  logger: Logger;
}

/**
 * Close `part` when the app closes (fastify runs onClose hooks in reverse registration order)
 * and say so at debug level, so that the close order can be read in the log.
 */
export function closeWithApp(app: FastifyInstance, logger: Logger, part: string, close: () => unknown): void {
  app.addHook('onClose', async () => {
    await close();
    logger.debug({ part }, 'closed');
  });
}
