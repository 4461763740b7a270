// The config schemas are written in TypeScript (src/config/*-schema.ts) and published as
// docs/*-config.schema.json by the build; docs/config.md's tables list the same defaults.
// Both copies must say what the code does.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { CONFIG_SCHEMA_FILES } from '../src/config/schema-files.js';
import { CONFIG_SCHEMAS, type ConfigSchemaName } from '../src/config/validator.js';
import { publishedSchemaText } from '../scripts/published-schema.mjs';

type Json = Record<string, unknown>;

const names = Object.keys(CONFIG_SCHEMAS) as ConfigSchemaName[];

for (const name of names) {
  t.test(`docs/${name}.schema.json is the schema the code uses, as the build writes it`, async (t) => {
    const file = CONFIG_SCHEMA_FILES[name];
    const published = readFileSync(file, 'utf8');
    t.equal(published, await publishedSchemaText(CONFIG_SCHEMAS[name], file), 'run npm run build');
    t.same(JSON.parse(published), CONFIG_SCHEMAS[name]);
  });
}

/** [key as docs/config.md writes it, default] for every key whose schema has one (bare {} left out). */
function defaultsIn(schema: Json, root: Json, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [key, given] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) {
    const ref = typeof given.$ref === 'string' ? given.$ref.replace('#/definitions/', '') : undefined;
    const node = ref ? { ...((root.definitions as Record<string, Json>)[ref] as Json), ...given } : given;
    const name = prefix + key;
    const empty = JSON.stringify(given.default) === '{}';
    if ('default' in given && !empty) out.push([name, given.default]);
    if (node.properties) out.push(...defaultsIn(node, root, `${name}.`));
    const items = node.items as Json | undefined;
    if (items?.properties) out.push(...defaultsIn(items, root, `${name}[].`));
  }
  return out;
}

t.test("docs/config.md's default column agrees with the schemas' defaults", async (t) => {
  const doc = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');
  const [serverSection, clientSection] = doc.split('## Client daemon') as [string, string];
  const sections: Record<ConfigSchemaName, string> = {
    'server-config': serverSection,
    'client-config': clientSection,
  };
  for (const name of names) {
    const rows = new Map<string, string>();
    for (const line of sections[name].split('\n')) {
      const cells = line.split('|').map((cell) => cell.trim());
      const key = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
      if (key !== undefined) rows.set(key, cells[3] ?? '');
    }
    const schema = CONFIG_SCHEMAS[name] as unknown as Json;
    const defaults = defaultsIn(schema, schema);
    t.ok(defaults.length > 20, `${name}: the schema states its defaults`);
    for (const [key, value] of defaults) {
      // a key without its own row is described in its parent's, as `key` (`default`)
      const inline = sections[name].split(`\`${key}\` (`)[1];
      const shown = /^`([^`]+)`/.exec(rows.get(key) ?? inline ?? '')?.[1];
      t.ok(shown !== undefined, `${name}: ${key} has a default in docs/config.md`);
      if (shown !== undefined) t.same(JSON.parse(shown), value, `${name}: ${key}`);
    }
  }
});
