// Where the config schemas are published: the build writes each program's schema (with its
// defaults) to docs/ for editors, operators and docs/config.md; the code uses the TypeScript
// original, and a test keeps the two equal.
import { fileURLToPath } from 'node:url';
import type { ConfigSchemaName } from './validator.js';

export const SERVER_CONFIG_SCHEMA_PATH: string = fileURLToPath(
  new URL('../../../../docs/server-config.schema.json', import.meta.url),
);
export const CLIENT_CONFIG_SCHEMA_PATH: string = fileURLToPath(
  new URL('../../../../docs/client-config.schema.json', import.meta.url),
);

export const CONFIG_SCHEMA_FILES: Readonly<Record<ConfigSchemaName, string>> = {
  'server-config': SERVER_CONFIG_SCHEMA_PATH,
  'client-config': CLIENT_CONFIG_SCHEMA_PATH,
};
