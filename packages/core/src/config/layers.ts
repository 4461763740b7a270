// Loading a config in layers, later wins: the config file, then command-line overrides.
// Each layer is validated on its own, so an error names the file (or the command line) it
// is in, and its relative paths are resolved against its own base before merging. The
// defaults are filled into the merged result once, at the end, so that no layer ever looks
// as if it set a key it left out.
import { readFileSync } from 'node:fs';
import { pathFor } from '../platform-path.js';
import { configError, schemaError } from './config-error.js';
import { isPlainObject, withoutUndefined, type Json } from './json.js';
import { configValidator, type ConfigSchemaName } from './validator.js';

export interface LoadOptions<T> {
  /** --config FILE; when absent, only defaults + overrides */
  file?: string;
  /** CLI flag overrides, applied after the file, validated the same way */
  overrides?: DeepPartial<T>;
  /** base for relative paths when there is no file (default process.cwd()) */
  cwd?: string;
  /** whose path rules make paths absolute (default process.platform; tests drive 'win32') */
  platform?: NodeJS.Platform;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** What one program's config adds to the common layering. */
export interface ConfigProgram {
  schema: ConfigSchemaName;
  resolvePaths: (layer: Json, base: string, platform?: NodeJS.Platform) => Json;
  /** keys whose value replaces the one below as a unit instead of merging key by key */
  replaceWhole: ReadonlySet<string>;
  /** the defaults a schema cannot state: they depend on the machine or the installation */
  runtimeDefaults: (config: Json) => void;
}

/**
 * Deep merge: objects merge key by key, everything else (arrays, null, scalars)
 * replaces. Keys in `replaceWhole` replace as a unit: `"mirror": {}` must mean
 * "mirror everything", not "the default product filter".
 */
function merge(base: Json, layer: Json, replaceWhole: ReadonlySet<string>, prefix = ''): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    const path = prefix + key;
    const current = out[key];
    out[key] =
      isPlainObject(value) && isPlainObject(current) && !replaceWhole.has(path)
        ? merge(current, value, replaceWhole, `${path}.`)
        : structuredClone(value);
  }
  return out;
}

function readConfigFile(file: string, absolute: string): unknown {
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
    throw configError(file, file, '', `cannot read config file ${absolute}: ${reason}`, err);
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw configError(file, file, '', `not valid JSON: ${(err as Error).message}`, err);
  }
}

/** Validate one layer; the error names the key, the rule and the value. */
function validateLayer(schema: ConfigSchemaName, layer: unknown, source: string, file: string | null): Json {
  if (!isPlainObject(layer)) {
    throw configError(source, file, '', `the config must be a JSON object (got ${JSON.stringify(layer)})`);
  }
  // The validator fills in defaults as it goes: a copy takes them, the layer stays as written.
  const copy = structuredClone(layer);
  const validate = configValidator(schema);
  if (validate(copy)) return layer;
  throw schemaError(validate.errors ?? [], copy, source, file);
}

/** The schema's defaults, then the program's run-time ones, filled into a merged config. */
function withDefaults(program: ConfigProgram, config: Json): Json {
  const validate = configValidator(program.schema);
  if (!validate(config)) throw schemaError(validate.errors ?? [], config, 'config', null);
  program.runtimeDefaults(config);
  return config;
}

/** The layers merged, defaults filled in, every path absolute; still untyped. */
export function loadLayers(program: ConfigProgram, opts: LoadOptions<unknown>): Json {
  const { platform } = opts;
  const { dirname, isAbsolute, resolve } = pathFor(platform);
  const cwd = resolve(opts.cwd ?? process.cwd());
  let config: Json = {};
  if (opts.file !== undefined) {
    const absolute = isAbsolute(opts.file) ? opts.file : resolve(cwd, opts.file);
    const layer = validateLayer(program.schema, readConfigFile(opts.file, absolute), opts.file, opts.file);
    config = merge(config, program.resolvePaths(layer, dirname(absolute), platform), program.replaceWhole);
  }
  if (opts.overrides !== undefined) {
    const layer = validateLayer(
      program.schema,
      withoutUndefined(structuredClone(opts.overrides)),
      'command line',
      null,
    );
    config = merge(config, program.resolvePaths(layer, cwd, platform), program.replaceWhole);
  }
  delete config.$schema;
  // The layers' paths are absolute already: this resolves the defaults' against cwd.
  return program.resolvePaths(withDefaults(program, config), cwd, platform);
}
