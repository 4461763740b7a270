// loadClientConfig: patchbay-client's config file and flags, layered, checked, defaulted.
import type { ClientConfig } from './client-schema.js';
import { clientRuntimeDefaults } from './defaults.js';
import { loadLayers, type ConfigProgram, type LoadOptions } from './layers.js';
import { resolveClientPaths } from './paths.js';
import { assertTimeZones } from './time-zones.js';

const CLIENT: ConfigProgram = {
  schema: 'client-config',
  resolvePaths: resolveClientPaths,
  replaceWhole: new Set(),
  runtimeDefaults: clientRuntimeDefaults,
};

/** Throws PatchbayError PB_ERR_CONFIG naming the key and the reason (CLIs exit 2). */
export function loadClientConfig(opts: LoadOptions<ClientConfig> = {}): ClientConfig {
  const config = loadLayers(CLIENT, opts) as unknown as ClientConfig;
  assertTimeZones([
    ['schedule.timezone', config.schedule.timezone],
    ...config.policy.maintenanceWindows.map((w, i): [string, unknown] => [
      `policy.maintenanceWindows[${i}].timezone`,
      w.timezone,
    ]),
  ]);
  return config;
}
