// One validator per program, compiled from its schema with ajv's useDefaults: validating a
// document also fills in its absent keys from the schema's `default` keywords. The build
// precompiles both (scripts/compile-schemas.mjs, src/precompiled.ts); compiling at run time
// is the fallback when the build's copy is missing or was made from another schema.
import type { Options as AjvOptions, ValidateFunction } from 'ajv';
import { loadPrecompiledValidator } from '../precompiled.js';
import { createAjv } from '../schema-errors.js';
import { CLIENT_CONFIG_SCHEMA } from './client-schema.js';
import { SERVER_CONFIG_SCHEMA } from './server-schema.js';

export const CONFIG_SCHEMAS = {
  'server-config': SERVER_CONFIG_SCHEMA,
  'client-config': CLIENT_CONFIG_SCHEMA,
} as const;

export type ConfigSchemaName = keyof typeof CONFIG_SCHEMAS;

export const CONFIG_AJV_OPTIONS: AjvOptions = { useDefaults: true };

/** What a validator is stamped with: the schema and the options it was compiled with. */
export function configValidatorSources(name: ConfigSchemaName): string[] {
  return [JSON.stringify(CONFIG_SCHEMAS[name]), JSON.stringify(CONFIG_AJV_OPTIONS)];
}

export function compileConfigValidator(
  name: ConfigSchemaName,
  ajv = createAjv(CONFIG_AJV_OPTIONS),
): ValidateFunction {
  return ajv.compile(CONFIG_SCHEMAS[name]);
}

const validators = new Map<ConfigSchemaName, ValidateFunction>();

/** Validates and fills in defaults, in place: give it a copy when the original must stay as it was. */
export function configValidator(name: ConfigSchemaName): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    validate = loadPrecompiledValidator(name, configValidatorSources(name)) ?? compileConfigValidator(name);
    validators.set(name, validate);
  }
  return validate;
}
