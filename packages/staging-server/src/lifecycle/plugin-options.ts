// What every lifecycle plugin of `serve` is given (serve-app.ts registers them).
import type { Logger, ServerConfig } from '@patchbay/core';

export interface LifecycleOptions {
  config: ServerConfig;
  logger: Logger;
}
