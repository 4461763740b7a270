// `patchbay-server import PATH` (issue 7): placeholder until import lands.
import type { Logger, ServerConfig } from '@patchbay/core';

export async function runImportCommand(
  _config: ServerConfig,
  _logger: Logger,
  _opts: { path: string; json: boolean },
): Promise<number> {
  process.stderr.write('patchbay-server: import is not available in this version yet\n');
  return 2;
}
