// Config for both programs (docs/config.md): what callers import. Each program has one
// JSON Schema, written in TypeScript with its defaults (config/server-schema.ts,
// config/client-schema.ts); the types are derived from it and the build publishes it as
// docs/*-config.schema.json. Loading (config/layers.ts): the config file, then command-line
// overrides, each validated on its own and its relative paths resolved against its own base;
// the merged result then takes the defaults once.
export { loadClientConfig } from './config/client-config.js';
export { loadServerConfig } from './config/server-config.js';
export { CLIENT_CONFIG_DEFAULTS, SAMPLE_FEED_URL, SERVER_CONFIG_DEFAULTS } from './config/defaults.js';
export { normaliseFeedUrl } from './config/paths.js';
export { normaliseOrigin } from './config/server-checks.js';
export { isKnownTimeZone } from './config/time-zones.js';
export { CLIENT_CONFIG_SCHEMA_PATH, SERVER_CONFIG_SCHEMA_PATH } from './config/schema-files.js';
export type { DeepPartial, LoadOptions } from './config/layers.js';
export type {
  AuthConfig,
  NotifyConfig,
  RollupConfig,
  ServerConfig,
  TlsConfig,
} from './config/server-schema.js';
export type {
  ClientConfig,
  ClientNotifyConfig,
  ClientPolicy,
  ClientProduct,
  ClientSchedule,
  MaintenanceWindow,
  Weekday,
} from './config/client-schema.js';
