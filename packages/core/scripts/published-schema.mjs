// The text docs/ publishes for a config schema: the TypeScript original (src/config/*-schema.ts)
// as prettier formats a JSON file of this repository. The build writes it (compile-schemas.mjs);
// test/config-schema-files.test.ts checks that the committed files are exactly this.
import * as prettier from 'prettier';

export async function publishedSchemaText(schema, file) {
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(JSON.stringify(schema, null, 2), { ...options, filepath: file });
}
