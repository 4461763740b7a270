// Validators compiled at build time with Ajv's standalone code generator
// (scripts/compile-schemas.mjs writes dist/schemas/<name>.cjs). Compiling the config,
// feed and catalog schemas at run time cost ~250 ms each on every CLI start. Each
// generated module records the SHA-256 of the schema text it was made from; if the
// schema has changed since (or the build step did not run), the caller compiles at
// run time as before, so a stale build can never validate against an old schema.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';

export type PrecompiledSchema = 'feed' | 'catalog' | 'report' | 'server-config' | 'client-config';

interface GeneratedModule extends ValidateFunction {
  sourceSha256?: string;
}

const require = createRequire(import.meta.url);

/** The digest a generated module is checked against: over the schema texts it was compiled from. */
export function schemaSourceDigest(sources: readonly string[]): string {
  const hash = createHash('sha256');
  for (const source of sources) hash.update(source).update('\0');
  return hash.digest('hex');
}

/** The build-time validator for `name` if it was made from exactly these sources, else undefined. */
export function loadPrecompiledValidator(
  name: PrecompiledSchema,
  sources: readonly string[],
): ValidateFunction | undefined {
  let generated: GeneratedModule;
  try {
    generated = require(`./schemas/${name}.cjs`) as GeneratedModule;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
  return generated.sourceSha256 === schemaSourceDigest(sources) ? generated : undefined;
}
