// `patchbay-server export DIR` (issue 7): placeholder until export lands.
import type { Logger, ServerConfig } from '@patchbay/core';
import type { ExchangeFlags } from '../cli.js';

export async function runExportCommand(
  _config: ServerConfig,
  _logger: Logger,
  _opts: ExchangeFlags & { dir: string; json: boolean },
): Promise<number> {
  process.stderr.write('patchbay-server: export is not available in this version yet\n');
  return 2;
}
