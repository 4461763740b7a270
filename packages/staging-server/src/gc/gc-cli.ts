// `patchbay-server gc` (issue 5): placeholder until the collector lands.
import type { Logger, ServerConfig } from '@patchbay/core';

export async function runGcCommand(
  _config: ServerConfig,
  _logger: Logger,
  _opts: { dryRun: boolean; json: boolean },
): Promise<number> {
  process.stderr.write('patchbay-server: gc is not available in this version yet\n');
  return 2;
}
