// What every lifecycle plugin of `serve` shares (serve-app.ts registers them).
import type { FastifyInstance } from 'fastify';
import { fastifyPlugin } from 'fastify-plugin';
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

/** A part that only opens, is decorated onto the app, and closes with it. */
export interface PartSpec<T extends object> {
  /** the plugin's name, for fastify-plugin's `dependencies` */
  name: string;
  /** what the app is decorated with */
  decorator: string;
  /** how the close is logged */
  part: string;
  dependencies?: string[];
  open: (options: LifecycleOptions) => Promise<T> | T;
  close: (part: T) => unknown;
}

export function partPlugin<T extends object>(spec: PartSpec<T>) {
  async function openPart(app: FastifyInstance, options: LifecycleOptions): Promise<void> {
    const part: T = await spec.open(options);
    app.decorate<object>(spec.decorator, part);
    closeWithApp(app, options.logger, spec.part, () => spec.close(part));
  }
  return fastifyPlugin(openPart, {
    name: spec.name,
    ...(spec.dependencies ? { dependencies: spec.dependencies } : {}),
  });
}
