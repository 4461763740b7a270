// Defaults: the schemas state them (`default` keywords); this module adds the few that
// depend on the machine or the installation, and gives both programs' full set of
// defaults as frozen objects.
import { hostname as osHostname } from 'node:os';
import type { ClientConfig } from './client-schema.js';
import { deepFreeze, isPlainObject, type Json } from './json.js';
import type { ServerConfig } from './server-schema.js';
import { CONFIG_SCHEMAS, type ConfigSchemaName } from './validator.js';

/** The bundled sample feed directory, the server's default upstream. */
export const SAMPLE_FEED_URL: string = new URL('../../../sample-feed/feed/', import.meta.url).href;

/** A host id (report URL part, file name part) from the OS host name. */
function defaultHostId(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 253);
  return cleaned === '' ? 'localhost' : cleaned;
}

// Both run after the schema's defaults, so the objects they write into exist.

export function serverRuntimeDefaults(config: Json): void {
  const server = config as { upstream: { url?: string } };
  server.upstream.url ??= SAMPLE_FEED_URL;
}

export function clientRuntimeDefaults(config: Json): void {
  const client = config as { hostId?: string; hostname?: string; policy: { rebootCommand?: string[] } };
  client.hostId ??= defaultHostId(osHostname());
  client.hostname ??= osHostname() || 'localhost';
  client.policy.rebootCommand ??=
    process.platform === 'win32' ? ['shutdown', '/r', '/t', '60'] : ['shutdown', '-r', '+1'];
}

/**
 * What ajv's useDefaults fills into an empty document: each property's `default`, and the
 * defaults inside it. Walked here rather than validated, so that loading core does not load
 * both programs' validators (test/config-layers.test.ts checks that the two agree).
 */
export function emptyDocumentDefaults(schema: Json, root: Json = schema): Json {
  const out: Json = {};
  for (const [key, given] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) {
    if (!('default' in given)) continue;
    out[key] = structuredClone(given.default);
    const ref = typeof given.$ref === 'string' ? given.$ref.replace('#/definitions/', '') : undefined;
    const target = ref === undefined ? given : ((root.definitions as Record<string, Json>)[ref] as Json);
    const value = out[key];
    if (isPlainObject(value)) out[key] = { ...emptyDocumentDefaults(target, root), ...value };
  }
  return out;
}

function defaultsOf(schema: ConfigSchemaName, runtimeDefaults: (config: Json) => void): Json {
  const config = emptyDocumentDefaults(CONFIG_SCHEMAS[schema] as unknown as Json);
  runtimeDefaults(config);
  return deepFreeze(config);
}

/** Defaults as written (relative paths resolve against the working directory). */
export const SERVER_CONFIG_DEFAULTS = defaultsOf(
  'server-config',
  serverRuntimeDefaults,
) as unknown as Readonly<ServerConfig>;

export const CLIENT_CONFIG_DEFAULTS = defaultsOf(
  'client-config',
  clientRuntimeDefaults,
) as unknown as Readonly<ClientConfig>;
