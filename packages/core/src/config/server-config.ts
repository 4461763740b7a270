// loadServerConfig: patchbay-server's config file and flags, layered, checked, defaulted.
import { loadLayers, type ConfigProgram, type LoadOptions } from './layers.js';
import { serverRuntimeDefaults } from './defaults.js';
import { resolveServerPaths } from './paths.js';
import {
  assertTargetsSigning,
  assertUpstreamKind,
  isLoopbackHost,
  normaliseAllowedOrigins,
} from './server-checks.js';
import type { ServerConfig } from './server-schema.js';
import { assertTimeZones } from './time-zones.js';

const SERVER: ConfigProgram = {
  schema: 'server-config',
  resolvePaths: resolveServerPaths,
  replaceWhole: new Set(['mirror']),
  runtimeDefaults: serverRuntimeDefaults,
};

/** Throws PatchbayError PB_ERR_CONFIG naming the key and the reason (CLIs exit 2). */
export function loadServerConfig(opts: LoadOptions<ServerConfig> = {}): ServerConfig {
  const config = loadLayers(SERVER, opts) as unknown as ServerConfig;
  assertTimeZones([['schedule.timezone', config.schedule.timezone]]);
  normaliseAllowedOrigins(config);
  assertUpstreamKind(config);
  assertTargetsSigning(config);
  // Read-only endpoints are open by default only when nobody off this machine can reach them.
  // Report tokens are required everywhere (the schema's default): behind a reverse proxy on the
  // same machine every request comes from loopback, so a loopback listener proves nothing about
  // the reporter.
  config.auth.publicStatus ??= isLoopbackHost(config.listen.host);
  return config;
}
